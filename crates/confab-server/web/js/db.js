// IndexedDB: the token, cached conversations and recent messages (to open offline), the outbox.
let dbp;
function open() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const req = indexedDB.open('confab', 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore('kv');
        db.createObjectStore('outbox', { keyPath: 'id' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbp;
}

async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const s = t.objectStore(store);
    let result;
    const r = fn(s);
    if (r) r.onsuccess = () => { result = r.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const get = (key) => tx('kv', 'readonly', (s) => s.get(key)).catch(() => undefined);
export const set = (key, value) => tx('kv', 'readwrite', (s) => s.put(value, key)).catch(() => {});
export const del = (key) => tx('kv', 'readwrite', (s) => s.delete(key)).catch(() => {});
export const clearAll = () => Promise.all([
  tx('kv', 'readwrite', (s) => s.clear()),
  tx('outbox', 'readwrite', (s) => s.clear()),
]).catch(() => {});

export const outboxAll = async () => {
  const all = (await tx('outbox', 'readonly', (s) => s.getAll()).catch(() => [])) || [];
  return all.sort((a, b) => a.n - b.n);
};
export const outboxPut = (entry) => tx('outbox', 'readwrite', (s) => s.put(entry)).catch(() => {});
export const outboxDelete = (id) => tx('outbox', 'readwrite', (s) => s.delete(id)).catch(() => {});
