//! Message ids: 26 characters of Crockford base32 holding 48 bits of milliseconds since the
//! epoch and 80 random bits (the ULID layout), so ids sort by time as strings. The generator is
//! monotonic: within one millisecond it increments the random part, so ids from one writer also
//! sort in the order they were made.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Makes ids; one per writer.
#[derive(Debug, Default)]
pub struct IdGenerator {
    last: u128,
}

impl IdGenerator {
    /// A new id for time `now_ms`, greater than every id this generator made before.
    pub fn next(&mut self, now_ms: i64) -> String {
        let time = (now_ms.max(0) as u128) & ((1 << 48) - 1);
        let candidate = (time << 80) | random80();
        self.last = if candidate > self.last {
            candidate
        } else {
            self.last + 1
        };
        encode(self.last)
    }
}

fn random80() -> u128 {
    let mut bytes = [0u8; 16];
    // Randomness only spreads ids; on failure the monotonic counter still keeps them unique.
    let _ = getrandom::fill(&mut bytes[6..]);
    u128::from_be_bytes(bytes) >> 1
}

fn encode(value: u128) -> String {
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_stay_monotonic() {
        let mut ids = IdGenerator::default();
        let a = ids.next(1_000);
        let b = ids.next(1_000);
        let c = ids.next(999);
        let d = ids.next(2_000);
        assert_eq!(a.len(), 26);
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert!(a.bytes().all(|ch| ALPHABET.contains(&ch)));
    }
}
