//! The server's TLS identity: the certificate hospital IT issues (`--tls-cert`,
//! `--tls-key`), or for a trial run a local certificate authority and a server
//! certificate made here (`--self-signed`).
//!
//! Tablets reach the server by name over HTTPS because a service worker and
//! WebCrypto exist only on a secure origin. A local CA is made once and kept in the
//! data folder, so each tablet trusts it once; the server certificate it signs is
//! re-issued whenever the names change or it nears its end, without touching the
//! CA. The CA's key can vouch for any name to every tablet that trusts it, so both
//! keys are written readable by their owner only.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_rustls::TlsAcceptor;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// The file name of the local CA's certificate: `.crt`, the extension Android's and
/// iPadOS's certificate installers recognise when it is copied to a tablet.
pub const CA_CERTIFICATE_FILE: &str = "hp-ecmo-ca.crt";
const CA_KEY_FILE: &str = "hp-ecmo-ca.key";
const SERVER_CERTIFICATE_FILE: &str = "server.crt";
const SERVER_KEY_FILE: &str = "server.key";

/// How long a server certificate from the local CA is valid: under the 398 days
/// Apple's platforms accept for a TLS server certificate.
const SERVER_CERTIFICATE_DAYS: i64 = 397;
/// A server certificate with less than this left is re-issued at start.
const RENEW_BEFORE_DAYS: i64 = 30;
/// How long the local CA is valid: every tablet trusts it by hand, so it should
/// outlast the trial.
const CA_DAYS: i64 = 10 * 365;

/// A certificate and key ready to serve, and the names the certificate is for (to
/// tell people which URL to open).
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    names: Vec<CertName>,
}

/// A name a certificate is for: a DNS name (lower case) or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertName {
    /// A host name, such as `ward.example.org`.
    Dns(String),
    /// An address, such as `10.1.2.3`, for a network without names.
    Ip(IpAddr),
}

/// What `--self-signed` found or made in the data folder, for the operator to see.
pub struct SelfSigned {
    /// The identity to serve with: the server certificate signed by the local CA.
    pub tls: Tls,
    /// Where the CA's certificate is, to be copied to each tablet.
    pub ca_certificate: PathBuf,
    /// The SHA-256 of the CA certificate's DER, as colon-separated hex: what a
    /// person compares on the tablet before trusting it.
    pub ca_fingerprint: String,
    /// Whether the CA was made by this start (tablets must then trust it) or kept.
    pub ca: Made,
    /// Whether the server certificate was issued by this start or kept.
    pub server_certificate: Made,
}

/// Whether a start made a file or kept the one an earlier start made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    /// Made by this start.
    New,
    /// Kept from an earlier start.
    Kept,
}

impl Tls {
    /// Loads a PEM certificate chain (the server's certificate first, then any
    /// intermediates) and its PEM private key, as hospital IT hands them out.
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Self> {
        let chain = read_certificates(certificate)?;
        let key_text = std::fs::read(key)
            .with_context(|| format!("cannot read the TLS key {}", key.display()))?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_text).map_err(|error| {
            anyhow::anyhow!(
                "{} holds no PEM private key (-----BEGIN PRIVATE KEY-----, or an RSA or EC one): {error}",
                key.display()
            )
        })?;
        let names = parse_certificate(&chain[0])
            .and_then(|server| names_of(&server))
            .with_context(|| format!("cannot read the certificate {}", certificate.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("rustls has no protocol version in common with its crypto provider")?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot serve the certificate {} with the key {} (is it the key of that certificate?): {error}",
                    certificate.display(),
                    key.display()
                )
            })?;
        Ok(Self {
            config: Arc::new(config),
            names,
        })
    }

    /// The names the served certificate is for (its subject alternative names).
    pub fn names(&self) -> &[CertName] {
        &self.names
    }

    /// What takes the TLS handshake on each accepted connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }
}

impl CertName {
    /// Reads one name of `--self-signed`: an IP address, or a DNS name (which is
    /// compared and stored in lower case).
    pub fn parse(text: &str) -> Result<Self, String> {
        match ServerName::try_from(text.trim()) {
            Ok(ServerName::IpAddress(address)) => Ok(Self::Ip(IpAddr::from(address))),
            Ok(ServerName::DnsName(name)) => Ok(Self::Dns(name.as_ref().to_ascii_lowercase())),
            _ => Err(format!(
                "{text:?} is neither a DNS name (such as ward.example.org) nor an IP address"
            )),
        }
    }

    /// Whether a browser can open this name: a wildcard is only a pattern.
    pub fn is_openable(&self) -> bool {
        !matches!(self, Self::Dns(name) if name.starts_with('*'))
    }

    fn to_san(&self) -> Result<SanType> {
        Ok(match self {
            Self::Dns(name) => SanType::DnsName(
                name.as_str()
                    .try_into()
                    .with_context(|| format!("{name:?} cannot go in a certificate"))?,
            ),
            Self::Ip(address) => SanType::IpAddress(*address),
        })
    }
}

/// A name as it goes in a URL: an IPv6 address in brackets.
impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(IpAddr::V6(address)) => write!(f, "[{address}]"),
            Self::Ip(IpAddr::V4(address)) => write!(f, "{address}"),
        }
    }
}

/// `--self-signed`: the local CA in `folder` (made on the first start), and a server
/// certificate for `names` signed by it, issued when there is none, when its names
/// differ from `names` or when it ends within 30 days of `now`.
pub fn self_signed(folder: &Path, names: &[CertName], now: SystemTime) -> Result<SelfSigned> {
    if names.is_empty() {
        bail!("--self-signed needs at least one name, such as ward.example.org");
    }
    create_private_folder(folder)?;
    let ca_certificate = folder.join(CA_CERTIFICATE_FILE);
    let ca_key = folder.join(CA_KEY_FILE);
    let server_certificate = folder.join(SERVER_CERTIFICATE_FILE);
    let server_key = folder.join(SERVER_KEY_FILE);
    let now = OffsetDateTime::from(now);

    let ca = match (ca_certificate.exists(), ca_key.exists()) {
        (true, true) => Made::Kept,
        (false, false) => {
            make_ca(&ca_certificate, &ca_key, now)?;
            Made::New
        }
        _ => bail!(
            "{} holds only one of {CA_CERTIFICATE_FILE} and {CA_KEY_FILE}: restore the other, \
             or delete both to make a new certificate authority (every tablet must then trust the new one)",
            folder.display()
        ),
    };
    let ca_pem = read_text(&ca_certificate)?;
    let issue = ca == Made::New
        || !server_certificate.exists()
        || !server_key.exists()
        || !covers(&server_certificate, names, now)?;
    let server = if issue {
        let key = KeyPair::from_pem(&read_text(&ca_key)?)
            .with_context(|| format!("{} holds no usable key", ca_key.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)
            .with_context(|| format!("{} holds no usable certificate", ca_certificate.display()))?;
        issue_server_certificate(&issuer, names, now, &server_certificate, &server_key)?;
        Made::New
    } else {
        Made::Kept
    };
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .with_context(|| format!("{} holds no PEM certificate", ca_certificate.display()))?;
    Ok(SelfSigned {
        tls: Tls::from_pem_files(&server_certificate, &server_key)?,
        ca_certificate,
        ca_fingerprint: fingerprint(&ca_der),
        ca,
        server_certificate: server,
    })
}

impl SelfSigned {
    /// What the operator needs at start: where the CA is, its fingerprint, and how a
    /// tablet comes to trust it.
    pub fn report(&self) -> String {
        let ca = match self.ca {
            Made::New => "made now: every tablet must trust it once",
            Made::Kept => "kept from an earlier start",
        };
        let server = match self.server_certificate {
            Made::New => "issued now",
            Made::Kept => "kept from an earlier start",
        };
        let names: Vec<String> = self.tls.names.iter().map(CertName::to_string).collect();
        let file = CA_CERTIFICATE_FILE;
        format!(
            "Local certificate authority ({ca}): {path}\n\
             \x20 SHA-256 fingerprint: {fingerprint}\n\
             Server certificate for {names} ({server}).\n\
             To trust the authority on a tablet, copy {file} to it, check the fingerprint, then:\n\
             \x20 Android: Settings → Security → Encryption & credentials → Install a certificate → \
             CA certificate, and pick {file} (the menu's place varies by maker: search Settings for \"CA certificate\").\n\
             \x20 iPad: open or AirDrop {file}, then Settings → General → VPN & Device Management → \
             install the profile, then Settings → General → About → Certificate Trust Settings → \
             turn on full trust for the \"HP-ECMO local CA\" certificate.\n",
            path = self.ca_certificate.display(),
            fingerprint = self.ca_fingerprint,
            names = names.join(", "),
        )
    }
}

/// The SHA-256 of a certificate's DER as colon-separated upper-case hex, the form
/// `openssl x509 -fingerprint -sha256` and the tablets' certificate details show.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn make_ca(certificate: &Path, key_path: &Path, now: OffsetDateTime) -> Result<()> {
    let key = KeyPair::generate().context("cannot generate a key for the local CA")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    // The date tells two CAs apart in a tablet's list of trusted certificates.
    params.distinguished_name.push(
        DnType::CommonName,
        format!("HP-ECMO local CA {}", now.date()),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HP-ECMO trial server");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CA_DAYS);
    params.serial_number = Some(random_serial()?);
    let ca = params
        .self_signed(&key)
        .context("cannot sign the local CA's certificate")?;
    write_private(key_path, &key.serialize_pem())?;
    write_public(certificate, &ca.pem())
}

fn issue_server_certificate(
    issuer: &Issuer<'_, KeyPair>,
    names: &[CertName],
    now: OffsetDateTime,
    certificate: &Path,
    key_path: &Path,
) -> Result<()> {
    let key = KeyPair::generate().context("cannot generate a key for the server certificate")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].to_string());
    params.subject_alt_names = names.iter().map(CertName::to_san).collect::<Result<_>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    // A day back, so a tablet whose clock runs a little behind accepts it at once.
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SERVER_CERTIFICATE_DAYS);
    params.serial_number = Some(random_serial()?);
    let server = params
        .signed_by(&key, issuer)
        .context("cannot sign the server certificate")?;
    write_private(key_path, &key.serialize_pem())?;
    write_public(certificate, &server.pem())
}

/// Whether the server certificate in `path` is for exactly `names` and has more
/// than [`RENEW_BEFORE_DAYS`] left at `now`.
fn covers(path: &Path, names: &[CertName], now: OffsetDateTime) -> Result<bool> {
    let der = read_certificates(path)?.swap_remove(0);
    let certificate = parse_certificate(&der)
        .with_context(|| format!("cannot read the certificate {}", path.display()))?;
    let renew_at = now + time::Duration::days(RENEW_BEFORE_DAYS);
    let ends = certificate.validity().not_after.timestamp();
    let mut wanted = names.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut held = names_of(&certificate)?;
    held.sort();
    Ok(held == wanted && ends > renew_at.unix_timestamp())
}

fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| anyhow::anyhow!("not an X.509 certificate: {error}"))?;
    Ok(certificate)
}

/// The DNS names and IP addresses a certificate is for.
fn names_of(certificate: &X509Certificate<'_>) -> Result<Vec<CertName>> {
    let Some(names) = certificate
        .subject_alternative_name()
        .map_err(|error| anyhow::anyhow!("unreadable subject alternative names: {error}"))?
    else {
        return Ok(Vec::new());
    };
    Ok(names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(CertName::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                _ => None,
            }
            .map(CertName::Ip),
            _ => None,
        })
        .collect())
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read the TLS certificate {}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| anyhow::anyhow!("{} is not valid PEM: {error}", path.display()))?;
    if chain.is_empty() {
        bail!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(chain)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A fresh random serial number: a re-issued certificate never repeats one, which
/// browsers refuse from the same issuer.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("no randomness for a serial number: {error}"))?;
    // Positive and of full length in DER.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn create_private_folder(folder: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(folder)
        .with_context(|| format!("cannot create the folder {}", folder.display()))
}

/// Writes a key readable by its owner only, through a temporary file, so a crash
/// never leaves half a key behind.
fn write_private(path: &Path, contents: &str) -> Result<()> {
    write_file(path, contents, 0o600)
}

fn write_public(path: &Path, contents: &str) -> Result<()> {
    write_file(path, contents, 0o644)
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    written.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(text: &str, expected: Result<CertName, ()>) {
        assert_eq!(CertName::parse(text).map_err(|_| ()), expected, "{text}");
    }

    #[test]
    fn names_are_dns_names_or_addresses() {
        check_parse(
            "Ward.Example.org",
            Ok(CertName::Dns("ward.example.org".into())),
        );
        check_parse("10.1.2.3", Ok(CertName::Ip("10.1.2.3".parse().unwrap())));
        check_parse("::1", Ok(CertName::Ip("::1".parse().unwrap())));
        check_parse("", Err(()));
        check_parse("ward example", Err(()));
        check_parse("https://ward", Err(()));
    }

    #[test]
    fn an_ipv6_name_goes_in_brackets() {
        assert_eq!(CertName::parse("::1").unwrap().to_string(), "[::1]");
        assert_eq!(CertName::parse("10.0.0.1").unwrap().to_string(), "10.0.0.1");
    }

    #[test]
    fn a_fingerprint_is_colon_separated_hex() {
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }
}
