//! The HTTP listener: accepts connections through the [`Transport`] and serves each with
//! hyper's HTTP/1.1 connection (upgrades on, for `/ws`) and the axum router. Every request
//! gets the peer's address (`ConnectInfo<SocketAddr>`) and the [`Scheme`] it came in on as
//! extensions. A request head must arrive within `transport.header_timeout_secs` of the
//! connection or the end of the previous request (slowloris), or the connection is dropped.
//!
//! On shutdown it stops accepting and asks every connection to finish gracefully: a request
//! under way completes, an idle keep-alive connection closes. Upgraded WebSockets are no
//! longer HTTP connections; their sessions close through the server's task tracker.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::{Conn, Door, Scheme, Transport};

/// Serves `app` on `listener` until `shutdown`, then until every connection has finished.
pub async fn serve(
    listener: TcpListener,
    transport: Arc<Transport>,
    app: Router,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off a little and go on.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = transport.admit(peer) else {
            continue;
        };
        let transport = transport.clone();
        let app = app.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let established = tokio::select! {
                () = shutdown.cancelled() => return,
                conn = transport.establish(stream, peer, slot, Door::Http) => conn,
            };
            if let Some(conn) = established {
                connection(conn, peer, app, &transport, shutdown).await;
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn connection(
    conn: Conn,
    peer: SocketAddr,
    app: Router,
    transport: &Transport,
    shutdown: CancellationToken,
) {
    let scheme = if conn.is_tls() {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(peer));
        extensions.insert(scheme);
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(transport.limits().header_timeout());
    let served = builder
        .serve_connection(TokioIo::new(conn), service)
        .with_upgrades();
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = shutdown.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "http connection ended with an error");
    }
}
