//! OpenSSH key files, on OpenSSL: generating ed25519, ECDSA and RSA keys, writing the private
//! key in OpenSSH's own `openssh-key-v1` format (unencrypted) with its `authorized_keys` public
//! line, and reading such a file back.
//!
//! rpack writes keys for two purposes: the temporary key pair an `amazon-ebs` build imports into
//! EC2, and the key pair `rpack platform` creates for the user. It reads them only to check a
//! user's `ssh_private_key_file` before a build (is it a key at all, is it encrypted); the SSH
//! session itself is libssh2's business.
//!
//! # The format
//!
//! Specified by OpenSSH's `PROTOCOL.key`; all integers are big-endian, `string` is a `u32` length
//! followed by that many bytes, `mpint` is a `string` holding a two's-complement number.
//!
//! ```text
//! -----BEGIN OPENSSH PRIVATE KEY-----            base64 of the following, 70 columns a line
//! "openssh-key-v1\0"
//! string  cipher name     "none" unencrypted, else e.g. "aes256-ctr"
//! string  KDF name        "none" unencrypted, else "bcrypt"
//! string  KDF options     empty unencrypted
//! u32     number of keys  always 1
//! string  public key      the same blob as in the `authorized_keys` line
//! string  private section (encrypted with the cipher, if there is one):
//!     u32     check int   random, the same twice (a wrong passphrase shows as a mismatch)
//!     u32     check int
//!     string  key type    e.g. "ssh-ed25519"
//!     ...     the key type's private fields (see `Secret`)
//!     string  comment
//!     byte[]  padding 1, 2, 3, ... up to a multiple of the cipher's block size (8 for "none")
//! -----END OPENSSH PRIVATE KEY-----
//! ```

use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;

const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";
/// Base64 columns in the armour (what `ssh-keygen` writes).
const LINE_WIDTH: usize = 70;
/// Block size of the cipher "none": the private section is padded to a multiple of it.
const BLOCK_SIZE: usize = 8;
const ED25519: &str = "ssh-ed25519";
const RSA: &str = "ssh-rsa";

/// Why a key could not be generated, encoded or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not an `openssh-key-v1` file, or a damaged one.
    #[error("not a valid OpenSSH private key: {0}")]
    Malformed(&'static str),
    /// A well-formed file whose private section is encrypted with `cipher`.
    #[error("the OpenSSH private key is encrypted ({cipher})")]
    Encrypted { cipher: String },
    /// A well-formed, unencrypted file (envelope and check ints verified) holding a key type
    /// this module does not decode, e.g. `ssh-dss` or a security-key type.
    #[error("{algorithm} keys are not supported")]
    Unsupported { algorithm: String },
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] ErrorStack),
}

/// The NIST curves OpenSSH uses for ECDSA keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    NistP256,
    NistP384,
    NistP521,
}

impl Curve {
    const ALL: [Curve; 3] = [Curve::NistP256, Curve::NistP384, Curve::NistP521];

    /// The curve of a key size in bits (256, 384, 521).
    pub fn from_bits(bits: u32) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.bits() == bits)
    }

    pub fn bits(self) -> u32 {
        match self {
            Curve::NistP256 => 256,
            Curve::NistP384 => 384,
            Curve::NistP521 => 521,
        }
    }

    /// The curve's name inside key blobs: `nistp256`.
    fn ssh_name(self) -> &'static str {
        match self {
            Curve::NistP256 => "nistp256",
            Curve::NistP384 => "nistp384",
            Curve::NistP521 => "nistp521",
        }
    }

    /// The key type: `ecdsa-sha2-nistp256`.
    fn algorithm(self) -> &'static str {
        match self {
            Curve::NistP256 => "ecdsa-sha2-nistp256",
            Curve::NistP384 => "ecdsa-sha2-nistp384",
            Curve::NistP521 => "ecdsa-sha2-nistp521",
        }
    }

    fn group(self) -> Result<EcGroup, ErrorStack> {
        EcGroup::from_curve_name(match self {
            Curve::NistP256 => Nid::X9_62_PRIME256V1,
            Curve::NistP384 => Nid::SECP384R1,
            Curve::NistP521 => Nid::SECP521R1,
        })
    }
}

/// The key material, held by OpenSSL.
enum Secret {
    /// Private fields: `string public (32 bytes)`, `string seed || public (64 bytes)`.
    Ed25519(PKey<Private>),
    /// Private fields: `string curve name`, `string public point (uncompressed)`, `mpint d`.
    Ecdsa(Curve, EcKey<Private>),
    /// Private fields: `mpint n`, `mpint e`, `mpint d`, `mpint iqmp`, `mpint p`, `mpint q`.
    Rsa(Rsa<Private>),
}

/// A private key with its comment, convertible to OpenSSH's private-key and public-key formats.
pub struct PrivateKey {
    secret: Secret,
    /// The public key blob (computed once): what `authorized_keys` lines carry in base64.
    public: Vec<u8>,
    comment: String,
}

impl std::fmt::Debug for PrivateKey {
    /// Shows the public side only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PrivateKey")
            .field(&self.public_key_line())
            .finish()
    }
}

impl PrivateKey {
    pub fn generate_ed25519() -> Result<PrivateKey, KeyError> {
        PrivateKey::new(Secret::Ed25519(PKey::generate_ed25519()?), String::new())
    }

    pub fn generate_ecdsa(curve: Curve) -> Result<PrivateKey, KeyError> {
        let group = curve.group()?;
        let key = EcKey::generate(&group)?;
        PrivateKey::new(Secret::Ecdsa(curve, key), String::new())
    }

    /// An RSA key with modulus of `bits` bits and public exponent 65537.
    pub fn generate_rsa(bits: u32) -> Result<PrivateKey, KeyError> {
        PrivateKey::new(Secret::Rsa(Rsa::generate(bits)?), String::new())
    }

    fn new(secret: Secret, comment: String) -> Result<PrivateKey, KeyError> {
        let mut public = Vec::new();
        match &secret {
            Secret::Ed25519(key) => {
                put_string(&mut public, ED25519.as_bytes());
                put_string(&mut public, &key.raw_public_key()?);
            }
            Secret::Ecdsa(curve, key) => {
                put_string(&mut public, curve.algorithm().as_bytes());
                put_string(&mut public, curve.ssh_name().as_bytes());
                put_string(&mut public, &ec_point(key)?);
            }
            Secret::Rsa(key) => {
                put_string(&mut public, RSA.as_bytes());
                put_mpint(&mut public, key.e());
                put_mpint(&mut public, key.n());
            }
        }
        Ok(PrivateKey {
            secret,
            public,
            comment,
        })
    }

    /// The key with `comment`, which both formats carry after the key.
    pub fn with_comment(mut self, comment: &str) -> PrivateKey {
        self.comment = comment.to_string();
        self
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The key type, as OpenSSH names it: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`.
    pub fn algorithm(&self) -> &'static str {
        match &self.secret {
            Secret::Ed25519(_) => ED25519,
            Secret::Ecdsa(curve, _) => curve.algorithm(),
            Secret::Rsa(_) => RSA,
        }
    }

    /// The `authorized_keys` line, without a newline: `ssh-ed25519 AAAA… comment` (no comment
    /// field when the comment is empty). `ssh-keygen -y` prints the same line.
    pub fn public_key_line(&self) -> String {
        let mut line = format!("{} {}", self.algorithm(), BASE64.encode(&self.public));
        if !self.comment.is_empty() {
            line.push(' ');
            line.push_str(&self.comment);
        }
        line
    }

    /// The unencrypted private key in OpenSSH's format, armoured, ending in a newline.
    pub fn to_openssh(&self) -> Result<String, KeyError> {
        let mut check = [0u8; 4];
        openssl::rand::rand_bytes(&mut check)?;
        let mut private = Vec::new();
        private.extend_from_slice(&check);
        private.extend_from_slice(&check);
        put_string(&mut private, self.algorithm().as_bytes());
        match &self.secret {
            Secret::Ed25519(key) => {
                let public = key.raw_public_key()?;
                let mut pair = key.raw_private_key()?;
                pair.extend_from_slice(&public);
                put_string(&mut private, &public);
                put_string(&mut private, &pair);
            }
            Secret::Ecdsa(curve, key) => {
                put_string(&mut private, curve.ssh_name().as_bytes());
                put_string(&mut private, &ec_point(key)?);
                put_mpint(&mut private, key.private_key());
            }
            Secret::Rsa(key) => {
                // Always there in keys generated or read here.
                let (Some(iqmp), Some(p), Some(q)) = (key.iqmp(), key.p(), key.q()) else {
                    return Err(KeyError::Malformed("an RSA key without its CRT parameters"));
                };
                for n in [key.n(), key.e(), key.d(), iqmp, p, q] {
                    put_mpint(&mut private, n);
                }
            }
        }
        put_string(&mut private, self.comment.as_bytes());
        let mut pad = 1;
        while private.len() % BLOCK_SIZE != 0 {
            private.push(pad);
            pad += 1;
        }

        let mut file = MAGIC.to_vec();
        put_string(&mut file, b"none"); // cipher
        put_string(&mut file, b"none"); // KDF
        put_string(&mut file, b""); // KDF options
        file.extend_from_slice(&1u32.to_be_bytes()); // number of keys
        put_string(&mut file, &self.public);
        put_string(&mut file, &private);

        let base64 = BASE64.encode(&file);
        let mut text = format!("{BEGIN}\n");
        for line in base64.as_bytes().chunks(LINE_WIDTH) {
            text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            text.push('\n');
        }
        text.push_str(END);
        text.push('\n');
        Ok(text)
    }

    /// Reads an OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    ///
    /// An encrypted key is [`KeyError::Encrypted`] once its envelope parses; an unencrypted key of
    /// a type other than ed25519/ECDSA/RSA is [`KeyError::Unsupported`] once its envelope and check
    /// ints do. Otherwise the whole private section is checked as OpenSSH does (check ints, key
    /// type, padding), and the key itself by OpenSSL, including that it matches the public key.
    pub fn from_openssh(text: &str) -> Result<PrivateKey, KeyError> {
        let file = unarmour(text)?;
        let mut r = file
            .strip_prefix(MAGIC)
            .map(Reader)
            .ok_or(KeyError::Malformed("no openssh-key-v1 header"))?;
        let cipher = r.utf8()?;
        let kdf = r.utf8()?;
        let _kdf_options = r.string()?;
        if r.u32()? != 1 {
            return Err(KeyError::Malformed("not exactly one key"));
        }
        let public = r.string()?;
        let algorithm = Reader(public).utf8()?;
        // Encrypted ciphers with a MAC put it after this string: nothing more is read.
        let private = r.string()?;
        if cipher != "none" {
            return Err(KeyError::Encrypted {
                cipher: cipher.to_string(),
            });
        }
        if kdf != "none" {
            return Err(KeyError::Malformed("a KDF without a cipher"));
        }
        if private.len() % BLOCK_SIZE != 0 {
            return Err(KeyError::Malformed("private section not padded"));
        }

        let mut p = Reader(private);
        if p.u32()? != p.u32()? {
            return Err(KeyError::Malformed("check ints differ"));
        }
        if p.utf8()? != algorithm {
            return Err(KeyError::Malformed(
                "private key type differs from the public one",
            ));
        }
        let secret = match algorithm {
            ED25519 => read_ed25519(&mut p)?,
            RSA => read_rsa(&mut p)?,
            other => match Curve::ALL.into_iter().find(|c| c.algorithm() == other) {
                Some(curve) => read_ecdsa(&mut p, curve)?,
                None => {
                    return Err(KeyError::Unsupported {
                        algorithm: other.to_string(),
                    })
                }
            },
        };
        let comment = String::from_utf8_lossy(p.string()?).into_owned();
        // 1, 2, 3, ... (modulo 256, as OpenSSH checks it).
        if !p.0.iter().enumerate().all(|(i, &b)| b == (i + 1) as u8) {
            return Err(KeyError::Malformed("bad padding"));
        }
        let key = PrivateKey::new(secret, comment)?;
        if key.public != public {
            return Err(KeyError::Malformed(
                "private key does not match the public key",
            ));
        }
        Ok(key)
    }
}

/// A private key's text held in memory only (the build's temporary key): rpack's own SSH login
/// reads it from here, so it is written to a file only where a tool needs one (`-debug`, the
/// `ansible` provisioner). Its `Debug` form never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyText(std::sync::Arc<str>);

impl KeyText {
    pub fn new(text: impl Into<String>) -> KeyText {
        KeyText(std::sync::Arc::from(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyText(<sensitive>)")
    }
}

/// Writes a private key file readable by its owner only (mode 0600, which `ssh` insists on).
pub fn write_private_key_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Writes a private key to a file that must not exist yet (`O_EXCL`, so neither an existing
/// file nor a symlink at `path` is written through), mode 0600. For keys written where the user
/// asked (`-debug`'s `ec2_<build>.pem`).
pub fn write_new_private_key_file(path: &Path, text: &str) -> std::io::Result<()> {
    super::private_temp::create_private(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                std::io::Error::new(
                    e.kind(),
                    "the file already exists; remove it first (rpack never writes a key through an existing file or symlink)",
                )
            } else {
                e
            }
        })?
        .write_all(text.as_bytes())
}

/// The bytes between the armour lines.
fn unarmour(text: &str) -> Result<Vec<u8>, KeyError> {
    let body = text
        .trim_start()
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.split_once(END))
        .ok_or(KeyError::Malformed("no OPENSSH PRIVATE KEY armour"))?
        .0;
    let base64: String = body.split_ascii_whitespace().collect();
    BASE64
        .decode(base64)
        .map_err(|_| KeyError::Malformed("bad base64"))
}

fn read_ed25519(p: &mut Reader) -> Result<Secret, KeyError> {
    let public = p.string()?;
    let pair = p.string()?;
    if public.len() != 32 || pair.len() != 64 || pair[32..] != *public {
        return Err(KeyError::Malformed("bad ed25519 key"));
    }
    let key = PKey::private_key_from_raw_bytes(&pair[..32], Id::ED25519)?;
    // A mismatch with the stored public half shows when the caller compares public blobs.
    Ok(Secret::Ed25519(key))
}

fn read_ecdsa(p: &mut Reader, curve: Curve) -> Result<Secret, KeyError> {
    if p.utf8()? != curve.ssh_name() {
        return Err(KeyError::Malformed("ECDSA curve differs from the key type"));
    }
    let point = p.string()?;
    let d = p.mpint()?;
    let group = curve.group()?;
    let mut ctx = BigNumContext::new()?;
    let point = EcPoint::from_bytes(&group, point, &mut ctx)?;
    let key = EcKey::from_private_components(&group, &d, &point)?;
    key.check_key()?;
    Ok(Secret::Ecdsa(curve, key))
}

fn read_rsa(p: &mut Reader) -> Result<Secret, KeyError> {
    let mut next = || p.mpint();
    let (n, e, d, iqmp, prime_p, prime_q) = (next()?, next()?, next()?, next()?, next()?, next()?);
    // OpenSSH leaves out d mod (p-1) and d mod (q-1); OpenSSL wants them.
    let mut ctx = BigNumContext::new()?;
    let one = BigNum::from_u32(1)?;
    let exponent = |prime: &BigNumRef, ctx: &mut BigNumContext| -> Result<BigNum, ErrorStack> {
        let mut minus_one = BigNum::new()?;
        minus_one.checked_sub(prime, &one)?;
        let mut r = BigNum::new()?;
        r.checked_rem(&d, &minus_one, ctx)?;
        Ok(r)
    };
    let dmp1 = exponent(&prime_p, &mut ctx)?;
    let dmq1 = exponent(&prime_q, &mut ctx)?;
    let key = Rsa::from_private_components(n, e, d, prime_p, prime_q, dmp1, dmq1, iqmp)?;
    if !key.check_key()? {
        return Err(KeyError::Malformed("inconsistent RSA key"));
    }
    Ok(Secret::Rsa(key))
}

/// The public point of an ECDSA key, uncompressed (`04 || x || y`).
fn ec_point(key: &EcKey<Private>) -> Result<Vec<u8>, ErrorStack> {
    let mut ctx = BigNumContext::new()?;
    key.public_key()
        .to_bytes(key.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
}

fn put_string(buf: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("key fields are far below 4 GiB");
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn put_mpint(buf: &mut Vec<u8>, n: &BigNumRef) {
    put_string(buf, &mpint(n));
}

/// A non-negative number as an `mpint` body: big-endian, minimal, with a leading zero byte when
/// the top bit is set (it would read as negative otherwise); zero is empty.
fn mpint(n: &BigNumRef) -> Vec<u8> {
    let mut bytes = n.to_vec();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

/// Reads the wire types from the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeyError> {
        if self.0.len() < n {
            return Err(KeyError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, KeyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn utf8(&mut self) -> Result<&'a str, KeyError> {
        std::str::from_utf8(self.string()?).map_err(|_| KeyError::Malformed("a name is not UTF-8"))
    }

    /// A non-negative `mpint`.
    fn mpint(&mut self) -> Result<BigNum, KeyError> {
        let bytes = self.string()?;
        if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(KeyError::Malformed("negative number"));
        }
        Ok(BigNum::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;

    fn keygen(args: &[&str]) -> std::process::Output {
        let out = Command::new("ssh-keygen")
            .args(args)
            .output()
            .expect("running ssh-keygen");
        assert!(
            out.status.success(),
            "ssh-keygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// What `ssh-keygen -y` derives from the private key file `path`.
    fn openssh_public_line(path: &Path) -> String {
        let out = keygen(&["-y", "-f", path.to_str().unwrap()]);
        String::from_utf8(out.stdout).unwrap()
    }

    /// A key file made by `ssh-keygen -t <kind> <extra…>` with an empty passphrase.
    fn openssh_key(dir: &Path, name: &str, kind: &str, extra: &[&str]) -> (PathBuf, String) {
        let path = dir.join(name);
        let mut args = vec!["-q", "-t", kind, "-N", "", "-C", "made by ssh-keygen"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-f", path.to_str().unwrap()]);
        keygen(&args);
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    fn generated() -> Vec<PrivateKey> {
        vec![
            PrivateKey::generate_ed25519().unwrap(),
            PrivateKey::generate_ecdsa(Curve::NistP256).unwrap(),
            PrivateKey::generate_ecdsa(Curve::NistP384).unwrap(),
            PrivateKey::generate_ecdsa(Curve::NistP521).unwrap(),
            PrivateKey::generate_rsa(2048).unwrap(),
        ]
    }

    /// OpenSSH reads every key rpack writes and derives exactly rpack's public line from it.
    #[test]
    fn ssh_keygen_reads_the_keys_written_here() {
        let dir = tempfile::tempdir().unwrap();
        for (i, key) in generated().into_iter().enumerate() {
            let key = key.with_comment(&format!("rpack test {i}"));
            let path = dir.path().join(format!("key{i}"));
            write_private_key_file(&path, &key.to_openssh().unwrap()).unwrap();
            assert_eq!(
                openssh_public_line(&path),
                format!("{}\n", key.public_key_line()),
                "{}",
                key.algorithm()
            );
        }
    }

    #[test]
    fn an_empty_comment_leaves_the_public_line_at_two_fields() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate_ed25519().unwrap();
        let line = key.public_key_line();
        assert_eq!(line.split(' ').count(), 2, "{line}");
        let path = dir.path().join("k");
        write_private_key_file(&path, &key.to_openssh().unwrap()).unwrap();
        assert_eq!(openssh_public_line(&path), format!("{line}\n"));
    }

    #[test]
    fn the_file_has_openssh_shape() {
        use std::os::unix::fs::PermissionsExt as _;
        let key = PrivateKey::generate_rsa(2048).unwrap().with_comment("c");
        let text = key.to_openssh().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], BEGIN);
        assert_eq!(*lines.last().unwrap(), END);
        assert!(text.ends_with('\n'));
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == LINE_WIDTH));
        assert!(body.last().unwrap().len() <= LINE_WIDTH);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_private_key_file(&path, &text).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// Keys from `ssh-keygen` parse, give the line of its `.pub` file, and re-encoded are still
    /// keys OpenSSH reads as the same key.
    #[test]
    fn keys_made_by_ssh_keygen_parse() {
        let dir = tempfile::tempdir().unwrap();
        let kinds: [(&str, &[&str]); 5] = [
            ("ed25519", &[]),
            ("rsa", &["-b", "2048"]),
            ("ecdsa", &["-b", "256"]),
            ("ecdsa", &["-b", "384"]),
            ("ecdsa", &["-b", "521"]),
        ];
        for (i, (kind, extra)) in kinds.into_iter().enumerate() {
            let (path, text) = openssh_key(dir.path(), &format!("id{i}"), kind, extra);
            let key =
                PrivateKey::from_openssh(&text).unwrap_or_else(|e| panic!("{kind} {extra:?}: {e}"));
            assert_eq!(key.comment(), "made by ssh-keygen");
            let pub_file = std::fs::read_to_string(path.with_extension("pub")).unwrap();
            assert_eq!(format!("{}\n", key.public_key_line()), pub_file);

            let again = dir.path().join(format!("again{i}"));
            write_private_key_file(&again, &key.to_openssh().unwrap()).unwrap();
            assert_eq!(openssh_public_line(&again), pub_file);
        }
    }

    #[test]
    fn round_trip_keeps_key_and_comment() {
        for key in generated() {
            let key = key.with_comment("round trip");
            let back = PrivateKey::from_openssh(&key.to_openssh().unwrap()).unwrap();
            assert_eq!(back.public_key_line(), key.public_key_line());
            assert_eq!(back.comment(), "round trip");
        }
        // CRLF line endings and surrounding blank lines are fine too.
        let key = PrivateKey::generate_ed25519().unwrap();
        let crlf = format!("\n{}\n", key.to_openssh().unwrap().replace('\n', "\r\n"));
        let back = PrivateKey::from_openssh(&crlf).unwrap();
        assert_eq!(back.public_key_line(), key.public_key_line());
    }

    #[test]
    fn encrypted_keys_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "rsa"] {
            let path = dir.path().join(kind);
            keygen(&[
                "-q",
                "-t",
                kind,
                "-N",
                "a passphrase",
                "-f",
                path.to_str().unwrap(),
            ]);
            let text = std::fs::read_to_string(&path).unwrap();
            match PrivateKey::from_openssh(&text) {
                Err(KeyError::Encrypted { cipher }) => assert_eq!(cipher, "aes256-ctr"),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    /// Re-armours `file` after `edit` changed its decoded bytes.
    fn tampered(text: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut file = unarmour(text).unwrap();
        edit(&mut file);
        format!("{BEGIN}\n{}\n{END}\n", BASE64.encode(&file))
    }

    #[test]
    fn damaged_files_are_refused() {
        let key = PrivateKey::generate_ed25519().unwrap().with_comment("x");
        let text = key.to_openssh().unwrap();
        let malformed = |text: &str| {
            assert!(
                matches!(
                    PrivateKey::from_openssh(text),
                    Err(KeyError::Malformed(_) | KeyError::OpenSsl(_))
                ),
                "{text}"
            );
        };
        malformed("hello");
        malformed("");
        malformed(&text.replace(END, ""));
        malformed(&text[..text.len() / 2]);
        // Offsets: magic, "none", "none", "", 1, then the public key blob, then the private
        // section (check ints first), each string after its u32 length.
        let public_at = MAGIC.len() + (4 + 4) + (4 + 4) + 4 + 4 + 4;
        let private_at = public_at + key.public.len() + 4;
        assert_eq!(
            &unarmour(&text).unwrap()[public_at..private_at - 4],
            key.public
        );
        malformed(&tampered(&text, |f| f[private_at] ^= 1)); // check ints
        malformed(&tampered(&text, |f| *f.last_mut().unwrap() ^= 0xff)); // padding
        malformed(&tampered(&text, |f| f[MAGIC.len() - 2] = b'2')); // "openssh-key-v2"
                                                                    // Another key's public half in the header.
        let other = PrivateKey::generate_ed25519().unwrap();
        malformed(&tampered(&text, |f| {
            f[public_at..private_at - 4].copy_from_slice(&other.public);
        }));
        // A PEM (PKCS#1) RSA key is a key, but not in this format.
        let pem = Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
        malformed(std::str::from_utf8(&pem).unwrap());
    }

    #[test]
    fn other_key_types_are_unsupported_not_malformed() {
        let mut public = Vec::new();
        put_string(&mut public, b"sk-ssh-ed25519@openssh.com");
        put_string(&mut public, &[7; 32]);
        put_string(&mut public, b"ssh:");
        let mut private = vec![1, 2, 3, 4, 1, 2, 3, 4];
        put_string(&mut private, b"sk-ssh-ed25519@openssh.com");
        put_string(&mut private, b"opaque");
        while private.len() % BLOCK_SIZE != 0 {
            private.push(0);
        }
        let mut file = MAGIC.to_vec();
        for s in [&b"none"[..], b"none", b""] {
            put_string(&mut file, s);
        }
        file.extend_from_slice(&1u32.to_be_bytes());
        put_string(&mut file, &public);
        put_string(&mut file, &private);
        let text = format!("{BEGIN}\n{}\n{END}\n", BASE64.encode(&file));
        match PrivateKey::from_openssh(&text) {
            Err(KeyError::Unsupported { algorithm }) => {
                assert_eq!(algorithm, "sk-ssh-ed25519@openssh.com");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mpints_are_minimal_and_positive() {
        let n = |hex: &str| BigNum::from_hex_str(hex).unwrap();
        assert_eq!(mpint(&n("0")), Vec::<u8>::new());
        assert_eq!(mpint(&n("7f")), vec![0x7f]);
        assert_eq!(mpint(&n("80")), vec![0, 0x80]);
        assert_eq!(mpint(&n("123456")), vec![0x12, 0x34, 0x56]);
        assert!(Reader(&[0, 0, 0, 1, 0x80]).mpint().is_err());
        assert_eq!(Reader(&[0, 0, 0, 2, 0, 0x80]).mpint().unwrap(), n("80"));
    }

    #[test]
    fn curves_by_bits() {
        assert_eq!(Curve::from_bits(256), Some(Curve::NistP256));
        assert_eq!(Curve::from_bits(384), Some(Curve::NistP384));
        assert_eq!(Curve::from_bits(521), Some(Curve::NistP521));
        assert_eq!(Curve::from_bits(512), None);
    }
}
