//! How the server listens, over real sockets on 127.0.0.1 (port 0): plain HTTP and
//! HTTPS from `--self-signed`'s local CA, the answer a TLS port gives plain HTTP,
//! the timeouts that close stalled connections, and the security headers.
//!
//! Each test starts its own server with the timeouts it needs: short ones where a
//! stall is the point, long ones where a pooled client connection must not be
//! closed under it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use server::serve::{Listener, Timeouts, serve};
use server::store::DatabaseUrl;
use server::tls::{self, CertName, Made, SelfSigned, Tls};
use server::{AppState, Clock, Store};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trial::console::{ConsoleRole, SetupRequest};

const NAME: &str = "ward.example.org";
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
     frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// Long enough that no test that does not stall is ever cut off.
const PATIENT: Timeouts = Timeouts {
    header_read: Duration::from_secs(30),
    request_body: Duration::from_secs(30),
    tls_handshake: Duration::from_secs(30),
};

/// Short, for the tests of stalled clients.
const SHORT: Duration = Duration::from_millis(400);
const IMPATIENT: Timeouts = Timeouts {
    header_read: SHORT,
    request_body: SHORT,
    tls_handshake: SHORT,
};

/// A server with one plain and one TLS listener, and the CA its certificate is
/// from.
struct TestServer {
    plain: SocketAddr,
    tls: SocketAddr,
    ca_pem: String,
    store: Store,
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
    _folders: [TempDir; 3],
}

async fn spawn_server(timeouts: Timeouts) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let store = Store::connect(&DatabaseUrl::sqlite_file(
        &data.path().join("server.sqlite"),
    ))
    .await
    .unwrap();
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<html>app shell</html>").unwrap();
    let certificates = tempfile::tempdir().unwrap();
    let made = self_signed(certificates.path(), &[NAME]);
    let plain = Listener::plain(localhost()).await.unwrap();
    let tls = Listener::tls(localhost(), made.tls).await.unwrap();
    let (plain_address, tls_address) = (plain.local_addr(), tls.local_addr());
    let app = server::router(AppState::new(store.clone(), Clock::fixed(0)), dist.path());
    let (stop, stopped) = oneshot::channel();
    let served = tokio::spawn(serve(vec![plain, tls], app, timeouts, async {
        stopped.await.ok();
    }));
    TestServer {
        plain: plain_address,
        tls: tls_address,
        ca_pem: std::fs::read_to_string(made.ca_certificate).unwrap(),
        store,
        stop,
        served,
        _folders: [data, dist, certificates],
    }
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn names(names: &[&str]) -> Vec<CertName> {
    names
        .iter()
        .map(|name| CertName::parse(name).unwrap())
        .collect()
}

fn self_signed(folder: &Path, names_: &[&str]) -> SelfSigned {
    tls::self_signed(folder, &names(names_), SystemTime::now()).unwrap()
}

/// An HTTPS client that trusts only `ca_pem` and finds `NAME` at `address`.
fn client_trusting(ca_pem: &str, address: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve(NAME, address)
        .build()
        .unwrap()
}

impl TestServer {
    fn https_url(&self, path: &str) -> String {
        format!("https://{NAME}:{}{path}", self.tls.port())
    }

    fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.plain)
    }

    fn https_client(&self) -> reqwest::Client {
        client_trusting(&self.ca_pem, self.tls)
    }
}

/// Reads until the server closes, and how long that took; panics if it keeps
/// the connection open for `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(limit, async {
        let mut chunk = [0; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&chunk[..read]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("still open after {limit:?}"));
    (received, started.elapsed())
}

#[tokio::test]
async fn plain_http_and_https_both_answer_health() {
    let server = spawn_server(PATIENT).await;

    let plain = reqwest::get(server.http_url("/api/health")).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.text().await.unwrap().contains(r#""status":"ok""#));

    let tls = server
        .https_client()
        .get(server.https_url("/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(tls.status(), 200);
    assert!(tls.text().await.unwrap().contains(r#""status":"ok""#));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let server = spawn_server(PATIENT).await;
    let other_ca = tempfile::tempdir().unwrap();
    let other = self_signed(other_ca.path(), &[NAME]);
    let stranger = client_trusting(
        &std::fs::read_to_string(other.ca_certificate).unwrap(),
        server.tls,
    );
    let refused = stranger
        .get(server.https_url("/api/health"))
        .send()
        .await
        .expect_err("a certificate from another CA");
    assert!(refused.is_connect(), "{refused:?}");
}

#[tokio::test]
async fn security_headers_are_on_every_response_and_hsts_only_over_tls() {
    let server = spawn_server(PATIENT).await;
    let plain = reqwest::Client::new();
    let tls = server.https_client();
    for path in [
        "/",
        "/participants/deep/link",
        "/api/health",
        "/api/nowhere",
    ] {
        for (response, over_tls) in [
            (
                plain.get(server.http_url(path)).send().await.unwrap(),
                false,
            ),
            (tls.get(server.https_url(path)).send().await.unwrap(), true),
        ] {
            let headers = response.headers();
            let header = |name: &str| headers.get(name).map(|value| value.to_str().unwrap());
            assert_eq!(header("content-security-policy"), Some(CSP), "{path}");
            assert_eq!(header("x-content-type-options"), Some("nosniff"), "{path}");
            assert_eq!(header("referrer-policy"), Some("no-referrer"), "{path}");
            let hsts = over_tls.then_some("max-age=31536000");
            assert_eq!(header("strict-transport-security"), hsts, "{path}");
        }
    }
}

#[tokio::test]
async fn the_console_cookie_is_secure_over_tls_and_only_there() {
    let server = spawn_server(PATIENT).await;
    let plain = reqwest::Client::new();
    let tls = server.https_client();
    for (client, url, over_tls) in [
        (&plain, server.http_url("/api/console/setup"), false),
        (&tls, server.https_url("/api/console/setup"), true),
    ] {
        let path = server::console::invite(&server.store, ConsoleRole::Coordinator, None, 0)
            .await
            .unwrap();
        let request = SetupRequest {
            token: path.split_once('#').unwrap().1.to_owned(),
            name: format!("Coordinator {over_tls}"),
            password: "a long passphrase here".to_owned(),
        };
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(serde_json::to_string(&request).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
        assert_eq!(cookie.ends_with("; Secure"), over_tls, "{cookie}");
    }
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let server = spawn_server(PATIENT).await;
    let mut stream = TcpStream::connect(server.tls).await.unwrap();
    let host = format!("{NAME}:{}", server.tls.port());
    let request = format!("GET /participants HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();

    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let answer = String::from_utf8(answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(
        answer.contains(&format!(
            "This port speaks HTTPS only: open https://{host}/"
        )),
        "{answer}"
    );
}

#[tokio::test]
async fn half_a_request_header_is_closed_after_the_timeout() {
    let server = spawn_server(IMPATIENT).await;
    let mut stream = TcpStream::connect(server.plain).await.unwrap();
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */")
        .await
        .unwrap();
    let (_, waited) = read_until_closed(&mut stream, SHORT * 10).await;
    assert!(
        waited >= SHORT / 2,
        "closed after {waited:?}, before the timeout"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_timeout() {
    let server = spawn_server(IMPATIENT).await;
    for address in [server.plain, server.tls] {
        let mut stream = TcpStream::connect(address).await.unwrap();
        read_until_closed(&mut stream, SHORT * 10).await;
    }
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_dropped() {
    let server = spawn_server(IMPATIENT).await;
    let mut stream = TcpStream::connect(server.tls).await.unwrap();
    // The start of a TLS record header, and then nothing.
    stream.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let (_, waited) = read_until_closed(&mut stream, SHORT * 10).await;
    assert!(
        waited >= SHORT / 2,
        "closed after {waited:?}, before the timeout"
    );
}

#[tokio::test]
async fn many_stalled_connections_are_all_closed() {
    let server = spawn_server(IMPATIENT).await;
    let mut stalled = Vec::new();
    for index in 0..200 {
        let mut stream = TcpStream::connect(server.plain).await.unwrap();
        let partial = format!("GET /api/health?n={index} HTTP/1.1\r\nHost: 127");
        stream.write_all(partial.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    for stream in &mut stalled {
        read_until_closed(stream, SHORT * 10).await;
    }
}

#[tokio::test]
async fn a_stalled_request_body_is_ended() {
    let server = spawn_server(IMPATIENT).await;
    let mut stream = TcpStream::connect(server.plain).await.unwrap();
    // A tenth of the body it announces, and then nothing: the header is complete,
    // so only the body timeout can end this.
    stream
        .write_all(
            b"POST /api/enrol HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"enrolmen",
        )
        .await
        .unwrap();
    let (answer, waited) = read_until_closed(&mut stream, SHORT * 10).await;
    assert!(
        waited >= SHORT / 2,
        "ended after {waited:?}, before the timeout"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "a client error or a closed connection, not {answer}"
    );
}

#[tokio::test]
async fn a_request_in_flight_finishes_and_serve_returns_at_shutdown() {
    let server = spawn_server(PATIENT).await;
    let client = server.https_client();
    let health = client.get(server.https_url("/api/health")).send().await;
    assert_eq!(health.unwrap().status(), 200);
    // The client keeps its connection open; stopping must not wait for it.
    server.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.served)
        .await
        .expect("serve returns once its connections close")
        .unwrap();
}

#[tokio::test]
async fn self_signed_keeps_its_ca_and_reissues_for_new_names() {
    let folder = tempfile::tempdir().unwrap();
    let first = self_signed(folder.path(), &[NAME]);
    assert_eq!((first.ca, first.server_certificate), (Made::New, Made::New));
    let ca_der = rustls_pem_to_der(&std::fs::read_to_string(&first.ca_certificate).unwrap());
    assert_eq!(first.ca_fingerprint, tls::fingerprint(&ca_der));
    assert_eq!(
        first.ca_fingerprint.len(),
        32 * 3 - 1,
        "{}",
        first.ca_fingerprint
    );

    let again = self_signed(folder.path(), &[NAME]);
    assert_eq!(
        (again.ca, again.server_certificate),
        (Made::Kept, Made::Kept)
    );
    assert_eq!(again.ca_fingerprint, first.ca_fingerprint);

    let renamed = self_signed(folder.path(), &[NAME, "10.20.30.40"]);
    assert_eq!(
        (renamed.ca, renamed.server_certificate),
        (Made::Kept, Made::New)
    );
    assert_eq!(renamed.ca_fingerprint, first.ca_fingerprint);
    assert_eq!(renamed.tls.names(), names(&[NAME, "10.20.30.40"]));

    let year_later = SystemTime::now() + Duration::from_secs(380 * 24 * 3600);
    let renewed = tls::self_signed(folder.path(), &names(&[NAME, "10.20.30.40"]), year_later);
    let renewed = renewed.unwrap();
    assert_eq!(
        (renewed.ca, renewed.server_certificate),
        (Made::Kept, Made::New),
        "less than 30 days left: issued again"
    );

    let report = renewed.report();
    assert!(report.contains(&first.ca_fingerprint), "{report}");
    assert!(
        report.contains("Install a certificate → CA certificate"),
        "{report}"
    );
    assert!(report.contains("Certificate Trust Settings"), "{report}");
}

#[cfg(unix)]
#[tokio::test]
async fn self_signed_keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().unwrap();
    self_signed(folder.path(), &[NAME]);
    for file in ["hp-ecmo-ca.key", "server.key"] {
        let mode = std::fs::metadata(folder.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[tokio::test]
async fn the_reissued_certificate_is_served_under_its_new_name() {
    let folder = tempfile::tempdir().unwrap();
    self_signed(folder.path(), &["old.example.org"]);
    let made = self_signed(folder.path(), &[NAME]);
    let ca_pem = std::fs::read_to_string(&made.ca_certificate).unwrap();
    let listener = Listener::tls(localhost(), made.tls).await.unwrap();
    let address = listener.local_addr();
    let dist = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Store::connect(&DatabaseUrl::sqlite_file(&data.path().join("s.sqlite")))
        .await
        .unwrap();
    let app = server::router(AppState::new(store, Clock::fixed(0)), dist.path());
    tokio::spawn(serve(vec![listener], app, PATIENT, std::future::pending()));
    let url = format!("https://{NAME}:{}/api/health", address.port());
    let health = client_trusting(&ca_pem, address).get(url).send().await;
    assert_eq!(health.unwrap().status(), 200);
}

#[test]
fn certificate_files_fail_with_sentences_that_name_them() {
    let folder = tempfile::tempdir().unwrap();
    let made = self_signed(folder.path(), &[NAME]);
    let missing = folder.path().join("missing.pem");
    let key = folder.path().join("server.key");
    let error = |certificate: &Path, key: &Path| {
        format!("{:#}", Tls::from_pem_files(certificate, key).err().unwrap())
    };

    let message = error(&missing, &key);
    assert!(
        message.contains("cannot read the TLS certificate"),
        "{message}"
    );
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );

    let message = error(&key, &key);
    assert!(message.contains("holds no PEM certificate"), "{message}");

    let ca_key = folder.path().join("hp-ecmo-ca.key");
    let message = error(&folder.path().join("server.crt"), &ca_key);
    assert!(
        message.contains("is it the key of that certificate?"),
        "{message}"
    );

    let message = error(&made.ca_certificate, &made.ca_certificate);
    assert!(message.contains("holds no PEM private key"), "{message}");
}

#[tokio::test]
async fn the_start_up_lines_name_what_a_tablet_opens() {
    let folder = tempfile::tempdir().unwrap();
    let made = self_signed(folder.path(), &[NAME, "10.20.30.40", "127.0.0.1"]);

    let plain = Listener::plain(localhost()).await.unwrap();
    let url = format!("http://{}/", plain.local_addr());
    assert_eq!(plain.describe(), format!("{url} (this machine only)"));
    let local = Listener::tls(localhost(), made.tls.clone()).await.unwrap();
    let url = format!("https://{}/", local.local_addr());
    assert_eq!(local.describe(), format!("{url} (this machine only)"));

    let everywhere = Listener::plain("0.0.0.0:0".parse().unwrap()).await.unwrap();
    let line = everywhere.describe();
    assert!(
        line.contains("(all interfaces): plain HTTP, which tablets cannot use"),
        "{line}"
    );

    let tls = Listener::tls("0.0.0.0:0".parse().unwrap(), made.tls)
        .await
        .unwrap();
    let port = tls.local_addr().port();
    assert_eq!(
        tls.describe(),
        format!(
            "https://0.0.0.0:{port}/ (all interfaces): tablets open https://{NAME}:{port}/ \
             or https://10.20.30.40:{port}/ or https://127.0.0.1:{port}/"
        )
    );
}

/// The DER of the first certificate in `pem`, as rustls reads it.
fn rustls_pem_to_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}
