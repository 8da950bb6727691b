//! Accounts and authentication: register, log in (by password or token), log out. Passwords are
//! hashed with argon2id; a wrong username and a wrong password look the same to the client.

use confab_protocol::close;
use confab_protocol::names::{check_password, Username};

use super::abuse::Limit;
use super::sessions::Outbound;
use super::{Authed, ClientInfo, Hub, Session, DEFAULT_ROOM};
use crate::auth::jwt::JwtClaims;
use crate::auth::Token;
use crate::bus::{CacheSync, Event};
use crate::error::AppError;
use crate::store::User;

/// What a client presents to log in.
#[derive(Clone)]
pub enum Credentials {
    Token(String),
    /// A password login, with who the client is (for the abuse limits and the session list).
    Password {
        username: String,
        password: String,
        client: ClientInfo,
    },
}

/// The password hash of accounts made for a JWT: not a PHC string, so no password matches.
const NO_PASSWORD: &str = "!jwt";

/// A hash no password matches, verified when the username is unknown so that both failures
/// take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$U2fNfzc7bDPaRUN6Qe6Zm+ENr7yt5vSSw6mZ1ZK9QCg";

impl Hub {
    /// Creates an account (a member of `#general`) and a first token for it. With an invite
    /// code, also admits it to the code's room and returns the room's name. A code that cannot
    /// be redeemed fails the registration before anything is created. The order: check the
    /// code, hash the password, take one use of the code (atomically), create the user (giving
    /// the use back if that fails), then admit them.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        invite: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(User, Token, Option<String>), AppError> {
        self.attempt(client.ip)?;
        let username = Username::parse(username).map_err(|e| AppError::bad_request(e.0))?;
        check_password(password).map_err(|e| AppError::bad_request(e.0))?;
        if let Some(code) = invite {
            if self.directory().user_id(username.as_str()).is_some() {
                return Err(AppError::new(
                    confab_protocol::ErrorCode::Conflict,
                    format!("username {username} is taken"),
                ));
            }
            self.live_link(code).await?;
        }
        let hash = self.inner.hasher.hash(password).await.map_err(|err| {
            tracing::error!(%err, "cannot hash password");
            AppError::internal()
        })?;
        let link = match invite {
            Some(code) => Some(self.take_invite_use(code).await?),
            None => None,
        };
        let created = self
            .store()
            .create_user(username.as_str(), &hash, DEFAULT_ROOM)
            .await;
        let (user, general) = match created {
            Ok(created) => created,
            Err(err) => {
                if let Some(link) = &link {
                    self.release_invite_use(&link.code).await;
                }
                return Err(err.into());
            }
        };
        self.directory().add_user(&user);
        self.sync(CacheSync::user(&user));
        self.directory().add_conversation(&general);
        self.directory().add_member(general.id, user.id);
        self.publish(Event::Membership {
            conv: general.id,
            user: user.id,
            joined: true,
        });
        tracing::info!(user = %user.username, "registered");
        let room = match &link {
            Some(link) => self.join_by_invite_at_registration(link, &user).await,
            None => None,
        };
        let token = self.mint_token(&user, client).await?;
        Ok((user, token, room))
    }

    /// Checks a username and password and mints a new token, within the abuse limits: the
    /// address's attempts, then the username's failures (when those are used up the password
    /// is not even checked).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(User, Token), AppError> {
        self.attempt(client.ip)?;
        let user = self.verify_password(username, password).await?;
        let token = self.mint_token(&user, client).await?;
        tracing::info!(user = %user.username, "logged in");
        Ok((user, token))
    }

    /// Authenticates a token, or a password (minting a token for the session).
    pub async fn authenticate(&self, credentials: Credentials) -> Result<Authed, AppError> {
        match credentials {
            Credentials::Token(raw) if self.is_jwt(&raw) => {
                let claims = self.verify_jwt(&raw)?;
                let user = self.jwt_user(&claims.username).await?;
                Ok(Authed {
                    user,
                    token: Token::from_client(&raw).hash(),
                    new_token: None,
                    expires_at: Some(claims.expires_at),
                })
            }
            Credentials::Token(raw) => {
                if raw.len() > confab_protocol::Limits::MAX_TOKEN_BYTES {
                    return Err(AppError::unauthorized("invalid or revoked token"));
                }
                let token = Token::from_client(&raw);
                let hash = token.hash();
                let user = self
                    .store()
                    .user_by_token(hash)
                    .await?
                    .ok_or_else(|| AppError::unauthorized("invalid or revoked token"))?;
                self.inner.touches.record(hash);
                Ok(Authed {
                    user,
                    token: hash,
                    new_token: None,
                    expires_at: None,
                })
            }
            Credentials::Password {
                username,
                password,
                client,
            } => {
                let (user, token) = self.login(&username, &password, &client).await?;
                Ok(Authed {
                    user,
                    token: token.hash(),
                    new_token: Some(token),
                    expires_at: None,
                })
            }
        }
    }

    /// Revokes a token (REST logout). Its open sessions close with 4001.
    pub async fn revoke(&self, raw: &str) -> Result<(), AppError> {
        let hash = Token::from_client(raw).hash();
        let user = self
            .store()
            .user_by_token(hash)
            .await?
            .ok_or_else(|| AppError::unauthorized("invalid or revoked token"))?;
        self.store().revoke_token(hash).await?;
        self.publish(Event::Revoked {
            user: user.id,
            token: hash,
            except: 0,
        });
        tracing::info!(user = %user.username, "logged out");
        Ok(())
    }

    /// `logout`: revokes the session's token, acks, and closes the connection with 1000.
    pub(super) async fn logout(
        &self,
        session: &Session,
        reply_to: Option<&str>,
    ) -> Result<(), AppError> {
        self.store().revoke_token(session.handle.token).await?;
        self.publish(Event::Revoked {
            user: session.user.id,
            token: session.handle.token,
            except: session.handle.id,
        });
        tracing::info!(user = %session.user.username, session = session.handle.id, "logged out");
        session.ack(reply_to);
        session.handle.push(Outbound::Close {
            code: close::NORMAL,
            reason: "logged out",
        });
        Ok(())
    }

    pub(super) async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<User, AppError> {
        let wrong = || AppError::unauthorized("wrong username or password");
        let Ok(name) = Username::parse(username) else {
            return Err(wrong());
        };
        if password.len() > confab_protocol::names::MAX_PASSWORD_BYTES {
            return Err(wrong());
        }
        self.inner.abuse.may_try(name.as_str())?;
        let found = self.store().credentials(name.as_str()).await?;
        let hash = found
            .as_ref()
            .map_or(DUMMY_HASH, |c| c.password_hash.as_str());
        let ok = self
            .inner
            .hasher
            .verify(password, hash)
            .await
            .map_err(|err| {
                tracing::error!(%err, "cannot verify password");
                AppError::internal()
            })?;
        match found {
            Some(credentials) if ok => Ok(credentials.user),
            _ => {
                tracing::info!(user = %name, "login refused");
                self.inner.abuse.failed(name.as_str());
                self.sync(CacheSync::Hit {
                    limit: Limit::FailedLogin,
                    key: name.as_str().to_owned(),
                });
                Err(wrong())
            }
        }
    }

    fn is_jwt(&self, raw: &str) -> bool {
        self.inner.jwt.is_some() && crate::auth::jwt::looks_like_jwt(raw)
    }

    fn verify_jwt(&self, raw: &str) -> Result<JwtClaims, AppError> {
        let verifier = self.inner.jwt.as_ref().ok_or_else(AppError::internal)?;
        verifier.verify(raw).map_err(|why| {
            tracing::info!(%why, "JWT refused");
            AppError::unauthorized("invalid or expired token")
        })
    }

    /// The account a JWT's `sub` names, created on first use (a member of `#general`, with no
    /// password: it can only be reached by JWT).
    async fn jwt_user(&self, username: &Username) -> Result<User, AppError> {
        if let Some(id) = self.directory().user_id(username.as_str()) {
            return Ok(User {
                id,
                username: username.as_str().to_owned(),
            });
        }
        match self
            .store()
            .create_user(username.as_str(), NO_PASSWORD, DEFAULT_ROOM)
            .await
        {
            Ok((user, general)) => {
                self.directory().add_user(&user);
                self.sync(CacheSync::user(&user));
                self.directory().add_conversation(&general);
                self.directory().add_member(general.id, user.id);
                self.publish(Event::Membership {
                    conv: general.id,
                    user: user.id,
                    joined: true,
                });
                tracing::info!(user = %user.username, "account created for a JWT");
                Ok(user)
            }
            // Created meanwhile by a concurrent first use.
            Err(crate::store::StoreError::Conflict(_)) => self
                .directory()
                .user_id(username.as_str())
                .map(|id| User {
                    id,
                    username: username.as_str().to_owned(),
                })
                .ok_or_else(AppError::internal),
            Err(err) => Err(err.into()),
        }
    }

    /// `refresh`: a newer JWT of the same user moves the session's expiry.
    pub(super) async fn refresh(&self, session: &Session, raw: &str) -> Result<(), AppError> {
        if !session.handle.expires() {
            return Err(AppError::bad_request(
                "this session was not opened with a JWT; it does not expire",
            ));
        }
        if !self.is_jwt(raw) {
            return Err(AppError::unauthorized("invalid or expired token"));
        }
        let claims = self.verify_jwt(raw)?;
        if claims.username.as_str() != session.user.username {
            return Err(AppError::forbidden("the token names another user"));
        }
        session.handle.extend(claims.expires_at);
        Ok(())
    }

    async fn mint_token(&self, user: &User, client: &ClientInfo) -> Result<Token, AppError> {
        let token = Token::generate().map_err(|err| {
            tracing::error!(%err, "no randomness for a token");
            AppError::internal()
        })?;
        self.store()
            .create_session(user.id, token.hash(), client.origin())
            .await?;
        Ok(token)
    }
}
