//! Where the client's token comes from: `--token` / `CONFAB_TOKEN`, else the token saved for
//! this server, else a login (or `--register`) with `--user` and a password from
//! `CONFAB_PASSWORD` or a prompt that does not echo. Tokens are saved in
//! `$XDG_CONFIG_HOME/confab/tokens.json` (or `~/.config/confab/tokens.json`), readable by the
//! user only.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use confab_client::protocol::ErrorCode;
use confab_client::{accounts, ClientError, Endpoint};
use serde::{Deserialize, Serialize};

/// A saved login for one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub username: String,
    pub token: String,
}

/// How to log in, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    pub token: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub register: bool,
}

fn store_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("confab").join("tokens.json"))
}

fn load_all() -> BTreeMap<String, Saved> {
    store_path()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Saves (or with `None`, forgets) the login for a server.
pub fn save(endpoint: &Endpoint, saved: Option<Saved>) -> anyhow::Result<()> {
    let Some(path) = store_path() else {
        return Ok(());
    };
    let mut all = load_all();
    match saved {
        Some(saved) => all.insert(endpoint.authority.clone(), saved),
        None => all.remove(&endpoint.authority),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(serde_json::to_string_pretty(&all)?.as_bytes())?;
    Ok(())
}

/// Asks a question on the terminal; returns the trimmed answer.
fn ask(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().to_owned())
}

/// The saved login for a server, if any.
pub fn saved(endpoint: &Endpoint) -> Option<Saved> {
    load_all().remove(&endpoint.authority)
}

/// A token to connect with; logs in (and saves the token) when there is none. With several
/// servers (nodes of one deployment, which share their accounts), a token saved for any of
/// them is used, and the login goes to the first that answers.
pub async fn token(servers: &[Endpoint], options: &LoginOptions) -> anyhow::Result<String> {
    let Some(first) = servers.first() else {
        bail!("no server given");
    };
    if let Some(token) = &options.token {
        return Ok(token.clone());
    }
    if !options.register {
        let wanted = options.user.as_deref().map(str::to_ascii_lowercase);
        for endpoint in servers {
            if let Some(saved) = saved(endpoint) {
                if wanted.as_ref().is_none_or(|u| *u == saved.username) {
                    return Ok(saved.token);
                }
            }
        }
    }
    let interactive = std::io::stdin().is_terminal();
    let user = match &options.user {
        Some(user) => user.clone(),
        None if interactive => ask(&format!("username on {}: ", first.authority))?,
        None => bail!(
            "not logged in to {}: give --user NAME (password from CONFAB_PASSWORD or a prompt), \
             or --token",
            first.authority
        ),
    };
    let user = &user;
    let password = match &options.password {
        Some(password) => password.clone(),
        None => rpassword::prompt_password(format!("password for {user}: "))
            .context("cannot read the password")?,
    };
    let mut unreachable = None;
    for endpoint in servers {
        let result = if options.register {
            accounts::register(endpoint, user, &password).await
        } else {
            accounts::login(endpoint, user, &password).await
        };
        let token = match result {
            Ok(token) => token,
            Err(ClientError::Refused {
                code: ErrorCode::Unauthorized,
                ..
            }) => {
                bail!("wrong username or password")
            }
            Err(err @ ClientError::Refused { .. }) => return Err(err.into()),
            // This one is down: the next may answer.
            Err(err) => {
                unreachable = Some(err);
                continue;
            }
        };
        save(
            endpoint,
            Some(Saved {
                username: user.to_ascii_lowercase(),
                token: token.clone(),
            }),
        )?;
        return Ok(token);
    }
    Err(unreachable.map_or_else(|| anyhow::anyhow!("no server answered"), Into::into))
}
