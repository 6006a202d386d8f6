//! Helpers of the provisioners that run commands on the machine: CRLF conversion of
//! uploaded scripts, random remote names, and cancellable sleeps.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Packer's `UnixReader`: CRLF → LF.
pub(crate) fn to_unix(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// A random number in `0..9999` for remote file names (Packer's `rand.Intn(9999)`).
pub(crate) fn rand_name_number() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(0..9999)
}

/// Sleeps `d` unless cancelled first.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> anyhow::Result<()> {
    tokio::select! {
        () = tokio::time::sleep(d) => Ok(()),
        () = cancel.cancelled() => anyhow::bail!("cancelled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_converted() {
        assert_eq!(to_unix(b"a\r\nb\rc\n"), b"a\nb\rc\n");
    }
}
