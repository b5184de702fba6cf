//! Serving [`crate::router`] on sockets: one or more listeners, each plain HTTP or
//! TLS, with timeouts against clients that stop sending.
//!
//! This is our own accept loop over hyper's HTTP/1 connection rather than
//! `axum::serve`, for three things a hospital network needs. A connection that
//! stalls is closed: mid-header after [`Timeouts::header_read`], mid-body after
//! [`Timeouts::request_body`], mid-handshake after [`Timeouts::tls_handshake`], so a
//! thousand half-open connections cannot hold the server. A TLS port answers plain
//! HTTP with a sentence naming the `https://` URL instead of a silent hang (the
//! first byte of a TLS connection is always 0x16). And only TLS listeners add
//! `Strict-Transport-Security` (and mark their requests [`crate::console::OverTls`],
//! so the console's cookie is `Secure` there). Every request carries its connection's peer
//! address as axum's `ConnectInfo<SocketAddr>`, which the enrolment rate limit
//! counts by.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Layer;
use tower_http::add_extension::AddExtensionLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::headers;
use crate::tls::{CertName, Tls};

/// How long the server waits for a client that has stopped sending. Passed to
/// [`serve`] explicitly: the server uses [`Timeouts::STANDARD`], tests shorter ones.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From when a connection waits for a request (a new one, or the next on a
    /// kept-alive one) until its header is complete.
    pub header_read: Duration,
    /// The longest wait for the next part of a request body.
    pub request_body: Duration,
    /// From accepting a connection on a TLS port until its handshake is done (or
    /// its plain HTTP request has been answered).
    pub tls_handshake: Duration,
}

/// A bound socket, and the TLS identity it serves with (if it speaks TLS).
pub struct Listener {
    tcp: TcpListener,
    address: SocketAddr,
    tls: Option<Tls>,
}

impl Timeouts {
    /// For the ward: long enough for a tablet on weak Wi-Fi to send a push of
    /// events, short enough that stalled connections are gone within half a minute.
    pub const STANDARD: Self = Self {
        header_read: Duration::from_secs(20),
        request_body: Duration::from_secs(30),
        tls_handshake: Duration::from_secs(10),
    };
}

impl Listener {
    /// Binds `address` for plain HTTP: for this machine (127.0.0.1), where a
    /// browser counts it as a secure origin, or behind a proxy that speaks TLS.
    pub async fn plain(address: SocketAddr) -> Result<Self> {
        Self::bind(address, None).await
    }

    /// Binds `address` for HTTPS with `tls`.
    pub async fn tls(address: SocketAddr, tls: Tls) -> Result<Self> {
        Self::bind(address, Some(tls)).await
    }

    async fn bind(address: SocketAddr, tls: Option<Tls>) -> Result<Self> {
        let tcp = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let address = tcp
            .local_addr()
            .with_context(|| format!("cannot read the address bound for {address}"))?;
        Ok(Self { tcp, address, tls })
    }

    /// The address bound: with port 0 asked for, the port the system picked.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// `http://` or `https://` and the address bound.
    pub fn url(&self) -> String {
        format!("{}://{}/", self.scheme(), self.address)
    }

    /// The line printed at start: the URL and, where the address alone would
    /// mislead, who can reach it or which URL a tablet opens.
    pub fn describe(&self) -> String {
        let ip = self.address.ip();
        let url = self.url();
        if ip.is_loopback() {
            return format!("{url} (this machine only)");
        }
        let reach = if ip.is_unspecified() {
            " (all interfaces)"
        } else {
            ""
        };
        let Some(tls) = &self.tls else {
            return format!(
                "{url}{reach}: plain HTTP, which tablets cannot use (the app needs HTTPS: \
                 --self-signed NAME or --tls-cert/--tls-key)"
            );
        };
        let urls: Vec<String> = tls
            .names()
            .iter()
            .filter(|name| name.is_openable() && **name != CertName::Ip(ip))
            .map(|name| format!("https://{name}:{}/", self.address.port()))
            .collect();
        match urls.as_slice() {
            [] => format!("{url}{reach}"),
            urls => format!("{url}{reach}: tablets open {}", urls.join(" or ")),
        }
    }

    fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }
}

/// Serves `app` on every listener until `shutdown` completes, then stops
/// accepting, lets requests in flight finish, and returns once every connection
/// has closed.
pub async fn serve(
    listeners: Vec<Listener>,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(());
    // Every connection holds a receiver; `closed` resolves when the last is dropped.
    let (connections, connection_open) = watch::channel(());
    let mut accept_loops = JoinSet::new();
    for listener in listeners {
        let app = match listener.tls {
            Some(_) => headers::strict_transport_security(app.clone())
                .layer(axum::Extension(crate::console::OverTls)),
            None => app.clone(),
        };
        accept_loops.spawn(accept(
            listener,
            app,
            timeouts,
            stopping.clone(),
            connection_open.clone(),
        ));
    }
    drop(connection_open);
    shutdown.await;
    stop.send_replace(());
    accept_loops.join_all().await;
    connections.closed().await;
}

/// Hands each connection `listener` accepts to its own task, until told to stop.
async fn accept(
    listener: Listener,
    app: Router,
    timeouts: Timeouts,
    mut stopping: watch::Receiver<()>,
    connection_open: watch::Receiver<()>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Out of file descriptors, most likely: wait for some to
                        // close instead of spinning.
                        tracing::error!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            _ = stopping.changed() => return,
        };
        let connection = Connection {
            app: app.clone(),
            peer,
            timeouts,
            stopping: stopping.clone(),
            _open: connection_open.clone(),
        };
        match &listener.tls {
            None => tokio::spawn(connection.serve_http(stream)),
            Some(tls) => tokio::spawn(connection.serve_tls(stream, tls.acceptor())),
        };
    }
}

/// An error that concerns only the connection being accepted: accept the next.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what serving it needs.
struct Connection {
    app: Router,
    /// The client's address, as the socket gives it.
    peer: SocketAddr,
    timeouts: Timeouts,
    stopping: watch::Receiver<()>,
    /// Dropped when the connection ends, which is what [`serve`] waits for.
    _open: watch::Receiver<()>,
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

impl Connection {
    /// Takes the TLS handshake, within [`Timeouts::tls_handshake`], then serves
    /// HTTP over it; a client speaking plain HTTP gets [`answer_plain_http`].
    async fn serve_tls(self, stream: TcpStream, acceptor: tokio_rustls::TlsAcceptor) {
        let peer = self.peer;
        let handshake = async move {
            let mut first_byte = [0; 1];
            if stream.peek(&mut first_byte).await? == 0 {
                return Ok(None);
            }
            if first_byte[0] != TLS_HANDSHAKE_RECORD {
                answer_plain_http(stream).await?;
                return Ok(None);
            }
            acceptor.accept(stream).await.map(Some)
        };
        match tokio::time::timeout(self.timeouts.tls_handshake, handshake).await {
            Ok(Ok(Some(tls_stream))) => self.serve_http(tls_stream).await,
            Ok(Ok(None)) => {}
            // Most often a tablet that does not trust the certificate (yet).
            Ok(Err(error)) => tracing::info!(%peer, %error, "TLS handshake failed"),
            Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
        }
    }

    /// Serves HTTP/1.1 on `io` until the client closes, a timeout closes it, or the
    /// server stops (then after the request in flight).
    async fn serve_http<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = RequestBodyTimeoutLayer::new(self.timeouts.request_body).layer(self.app);
        let app = AddExtensionLayer::new(ConnectInfo(self.peer)).layer(app);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.timeouts.header_read);
        let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
        tokio::pin!(connection);
        let served = tokio::select! {
            served = connection.as_mut() => served,
            _ = self.stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        // A client that went away or stalled: its business, not an error of ours.
        if let Err(error) = served {
            tracing::debug!(%error, "connection ended");
        }
    }
}

/// Plain HTTP sent to a TLS port: reads the request header (what arrives of it),
/// answers 400 with the `https://` URL to open instead, and closes.
async fn answer_plain_http(mut stream: TcpStream) -> io::Result<()> {
    const MAX_HEADER: usize = 8 * 1024;
    let mut request = Vec::new();
    let mut chunk = [0; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < MAX_HEADER {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..read]);
    }
    let host = match host_header(&request) {
        Some(host) => host,
        None => stream.local_addr()?.to_string(),
    };
    let body = format!(
        "This port speaks HTTPS only: open https://{host}/ instead.\n\
         此端口仅支持 HTTPS，请打开 https://{host}/\n"
    );
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\n\
         content-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\n\
         x-content-type-options: nosniff\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    // Read on until the client closes: closing with its bytes unread would reset
    // the connection, and the client might lose the answer.
    while stream.read(&mut chunk).await? > 0 {}
    Ok(())
}

/// The `Host` header of a raw request, if it is a plain host and port (it is
/// written back into the answer, so nothing else is let through).
fn host_header(request: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(request).ok()?;
    let host = text.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    })?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    (!host.is_empty() && host.chars().all(allowed)).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_is_read_and_checked() {
        let check = |request: &[u8], expected: Option<&str>| {
            assert_eq!(host_header(request).as_deref(), expected, "{request:?}");
        };
        check(
            b"GET / HTTP/1.1\r\nHost: ward.example.org:8443\r\n\r\n",
            Some("ward.example.org:8443"),
        );
        check(
            b"GET / HTTP/1.1\r\nhost:[::1]:8443\r\n\r\n",
            Some("[::1]:8443"),
        );
        check(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", None);
        check(b"GET / HTTP/1.1\r\nHost: evil<script>\r\n\r\n", None);
        check(b"GET / HTTP/1.1\r\nHost: \r\n\r\n", None);
        check(b"Host: ward\r\n\r\n", None);
    }
}
