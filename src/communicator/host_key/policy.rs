//! The host-key decision as a pure function: the evidence rpack has (mode, the key the server
//! presented, a key pinned earlier in the build, the key it injected, what the console lists,
//! whether the console wait is over, whether the server was asked for the listed key types
//! only) in; accept, reject, wait, ask again for the listed key types, or fall back out, each
//! with the line to print. The connect step gathers the evidence and acts on the decision.

use super::console::ConsoleKeys;
use super::{HostKey, Mode};

/// What rpack knows when a server presents `presented`.
#[derive(Debug, Clone)]
pub(crate) struct Evidence<'a> {
    pub mode: Mode,
    pub presented: &'a HostKey,
    /// The key accepted earlier in this build (reconnects, later connections).
    pub pinned: Option<&'a HostKey>,
    /// The host key rpack sent in the user data, when it could.
    pub injected: Option<&'a HostKey>,
    pub console: &'a ConsoleKeys,
    /// The console wait is over (no more evidence will come).
    pub console_final: bool,
    /// The server was asked for the console's key types only (after [`Decision::Renegotiate`]).
    pub restricted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Go on; pin the presented key. `message` for the UI (`None`: nothing to say).
    Accept { message: Option<String> },
    /// Stop the build before anything is sent: the message says which evidence disagrees.
    Reject { message: String },
    /// Nothing decides yet: look at the console again (before authenticating).
    Wait,
    /// Nothing could be verified in time: accept and pin the key (trust on first use), with a
    /// warning.
    Fallback { warning: String },
    /// The console lists keys rpack can check, none of the presented key's type (the server
    /// picked another of its keys): connect again asking only for `algorithms` (key types, in
    /// rpack's order of preference), then require a listed key. Nothing was sent.
    Renegotiate {
        algorithms: Vec<String>,
        message: String,
    },
}

/// Key types rpack asks for again when the console lists them, in the SSH session's order of
/// preference. Not `ssh-dss`: OpenSSH servers have not offered DSA host keys by default since
/// 7.0, so a listed DSA key says nothing about the keys the server can present, and asking for
/// it alone would stop builds that work.
const RENEGOTIABLE: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
];

/// Decides about `e.presented`.
pub(crate) fn decide(e: &Evidence<'_>) -> Decision {
    let fp = e.presented.fingerprint();
    // A key pinned earlier in the build binds every later connection, whatever the mode.
    if let Some(pin) = e.pinned {
        return if pin == e.presented {
            Decision::Accept { message: None }
        } else {
            Decision::Reject {
                message: format!(
                    "The host key changed during the build: the instance first presented {}, now {fp}. \
                     Another machine answers on the instance's address (a man in the middle or an \
                     address reused); stopping before anything is sent.",
                    pin.fingerprint()
                ),
            }
        };
    }
    let listed = e.console.keys();
    let console_match = listed.contains(e.presented);
    let injected_match = e.injected == Some(e.presented);
    let complete = matches!(e.console, ConsoleKeys::Complete(_));
    let contradiction = complete
        && !console_match
        && listed
            .iter()
            .any(|k| k.algorithm() == e.presented.algorithm());
    // Listed keys of types rpack can ask for, none of them the presented key's type.
    let askable: Vec<&HostKey> = listed
        .iter()
        .filter(|k| RENEGOTIABLE.contains(&k.algorithm()))
        .collect();
    let other_type = complete && !askable.is_empty() && !contradiction && !console_match;
    let verified_console = Decision::Accept {
        message: Some(format!("Host key verified from the console output: {fp}")),
    };
    let verified_injected = Decision::Accept {
        message: Some(format!("Host key verified (the key rpack injected): {fp}")),
    };
    let tofu = |why: &str| {
        Decision::Fallback {
        warning: format!(
            "Warning: could not verify the instance's host key ({why}); trusting it on first use: {fp}. \
             Compare it with the instance's console output, or set ssh_host_key_check."
        ),
    }
    };
    let disagree = || Decision::Reject {
        message: format!(
            "The instance's host key is not the one its console lists: presented {fp}, the console \
             lists {}. This is a man in the middle or a misconfiguration; stopping before anything \
             is sent (ssh_host_key_check: off restores Packer's behaviour).",
            list(listed)
        ),
    };
    let other_type_decision = || {
        let algorithms: Vec<String> = RENEGOTIABLE
            .iter()
            .filter(|a| askable.iter().any(|k| k.algorithm() == **a))
            .map(std::string::ToString::to_string)
            .collect();
        let types = algorithms.join(", ");
        if e.restricted {
            Decision::Reject {
                message: format!(
                    "Asked for the host key types its console lists ({types}), the server presented \
                     {fp}, which the console does not list ({}); stopping before anything is sent \
                     (ssh_host_key_check: off restores Packer's behaviour).",
                    list(listed)
                ),
            }
        } else {
            Decision::Renegotiate {
                message: format!(
                    "The server presented {fp}, a key type its console does not list ({}); \
                     connecting again to ask for {types} only.",
                    list(listed)
                ),
                algorithms,
            }
        }
    };
    match e.mode {
        Mode::Off => Decision::Accept { message: None },
        Mode::Tofu => Decision::Accept {
            message: Some(format!(
                "Warning: trusting the host key on first use (ssh_host_key_check: tofu): {fp}"
            )),
        },
        Mode::Inject => match e.injected {
            Some(_) if injected_match => verified_injected,
            Some(k) => Decision::Reject {
                message: format!(
                    "The instance presented host key {fp}, not the key rpack injected ({}); \
                     stopping before anything is sent. If the image does not run cloud-init's SSH \
                     module, use ssh_host_key_check: console or auto.",
                    k.fingerprint()
                ),
            },
            None => Decision::Reject {
                message: "ssh_host_key_check is inject, but no host key could be sent in the user \
                          data; use console or auto."
                    .into(),
            },
        },
        Mode::Console => {
            if console_match {
                verified_console
            } else if contradiction {
                disagree()
            } else if other_type {
                other_type_decision()
            } else if !e.console_final {
                Decision::Wait
            } else {
                tofu(&console_silence(e.console))
            }
        }
        Mode::Auto => {
            if injected_match {
                verified_injected
            } else if console_match {
                verified_console
            } else if contradiction {
                disagree()
            } else if other_type {
                other_type_decision()
            } else if !e.console_final {
                Decision::Wait
            } else {
                tofu(&console_silence(e.console))
            }
        }
    }
}

fn console_silence(c: &ConsoleKeys) -> String {
    match c {
        ConsoleKeys::NoBlock => "the console output lists no host keys".into(),
        ConsoleKeys::Truncated(_) => "the console output was cut off in its host key list".into(),
        ConsoleKeys::Complete(k) if k.iter().all(|k| !k.checkable()) => {
            "the console lists only key types rpack's SSH library cannot check".into()
        }
        ConsoleKeys::Complete(_) => "the console lists no matching key".into(),
    }
}

fn list(keys: &[HostKey]) -> String {
    if keys.is_empty() {
        return "no keys".into();
    }
    keys.iter()
        .map(HostKey::fingerprint)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algo: &str, fill: u8) -> HostKey {
        let mut b = Vec::new();
        let parts: Vec<Vec<u8>> = match algo {
            "ssh-ed25519" => vec![algo.into(), vec![fill; 32]],
            "ecdsa-sha2-nistp256" => vec![algo.into(), b"nistp256".to_vec(), vec![fill; 65]],
            "ssh-rsa" => vec![algo.into(), vec![1, 0, 1], vec![fill; 256]],
            "ssh-dss" => vec![
                algo.into(),
                vec![fill; 129],
                vec![fill; 21],
                vec![fill; 128],
                vec![fill; 128],
            ],
            _ => vec![algo.into(), vec![fill; 32], b"ssh:".to_vec()],
        };
        for p in parts {
            b.extend_from_slice(&(p.len() as u32).to_be_bytes());
            b.extend_from_slice(&p);
        }
        HostKey::from_blob(b).unwrap()
    }

    struct Case {
        mode: Mode,
        pinned: Option<HostKey>,
        injected: Option<HostKey>,
        console: ConsoleKeys,
        fin: bool,
        restricted: bool,
    }

    fn run(c: &Case, presented: &HostKey) -> Decision {
        decide(&Evidence {
            mode: c.mode,
            presented,
            pinned: c.pinned.as_ref(),
            injected: c.injected.as_ref(),
            console: &c.console,
            console_final: c.fin,
            restricted: c.restricted,
        })
    }

    fn kind(d: &Decision) -> &'static str {
        match d {
            Decision::Accept { .. } => "accept",
            Decision::Reject { .. } => "reject",
            Decision::Wait => "wait",
            Decision::Fallback { .. } => "fallback",
            Decision::Renegotiate { .. } => "renegotiate",
        }
    }

    /// Every combination of mode × pinned × injected × console state × finality × presented
    /// key, against the rules the issue sets.
    #[test]
    fn exhaustive_rules() {
        let good = key("ssh-ed25519", 1);
        let inj = key("ssh-ed25519", 2);
        let evil = key("ssh-ed25519", 3);
        let other_type = key("ecdsa-sha2-nistp256", 4);
        let sk = key("sk-ssh-ed25519@openssh.com", 5);
        let consoles = [
            ConsoleKeys::NoBlock,
            ConsoleKeys::Truncated(vec![good.clone()]),
            ConsoleKeys::Complete(vec![good.clone()]),
            ConsoleKeys::Complete(vec![other_type.clone()]),
            ConsoleKeys::Complete(vec![sk.clone()]),
            ConsoleKeys::Complete(vec![]),
        ];
        let modes = [
            Mode::Inject,
            Mode::Console,
            Mode::Tofu,
            Mode::Off,
            Mode::Auto,
        ];
        let mut n = 0;
        for mode in modes {
            for pinned in [None, Some(good.clone()), Some(evil.clone())] {
                for injected in [None, Some(inj.clone())] {
                    for console in consoles.clone() {
                        for (fin, restricted) in
                            [(false, false), (true, false), (false, true), (true, true)]
                        {
                            for presented in [&good, &inj, &evil, &other_type] {
                                let c = Case {
                                    mode,
                                    pinned: pinned.clone(),
                                    injected: injected.clone(),
                                    console: console.clone(),
                                    fin,
                                    restricted,
                                };
                                let d = run(&c, presented);
                                check(&c, presented, &d);
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 5 * 3 * 2 * 6 * 4 * 4);
    }

    fn check(c: &Case, p: &HostKey, d: &Decision) {
        let ctx = format!(
            "{:?} pinned={:?} injected={:?} console={:?} final={} restricted={} presented={p:?} → {d:?}",
            c.mode, c.pinned, c.injected, c.console, c.fin, c.restricted
        );
        let listed = c.console.keys();
        let in_console = listed.contains(p);
        let complete = matches!(c.console, ConsoleKeys::Complete(_));
        let same_type_listed = listed.iter().any(|k| k.algorithm() == p.algorithm());
        if let Some(pin) = &c.pinned {
            // A pin decides alone: same key → silent accept, other → reject.
            let want = if pin == p { "accept" } else { "reject" };
            assert_eq!(kind(d), want, "{ctx}");
            return;
        }
        match c.mode {
            Mode::Off => assert_eq!(d, &Decision::Accept { message: None }, "{ctx}"),
            Mode::Tofu => assert_eq!(kind(d), "accept", "{ctx}"),
            Mode::Inject => {
                let want = if c.injected.as_ref() == Some(p) {
                    "accept"
                } else {
                    "reject"
                };
                assert_eq!(kind(d), want, "{ctx}");
            }
            Mode::Console | Mode::Auto => {
                let inj_ok = c.mode == Mode::Auto && c.injected.as_ref() == Some(p);
                if inj_ok || in_console {
                    assert_eq!(kind(d), "accept", "{ctx}");
                } else if complete && same_type_listed {
                    // The contradiction: always a stop, in both modes.
                    assert_eq!(kind(d), "reject", "{ctx}");
                } else if complete
                    && listed
                        .iter()
                        .any(|k| k.checkable() && k.algorithm() != "ssh-dss")
                {
                    // Checkable keys listed, none of this type: ask for the listed types (at
                    // once, whatever the console wait); asked already, that is a stop.
                    let want = if c.restricted {
                        "reject"
                    } else {
                        "renegotiate"
                    };
                    assert_eq!(kind(d), want, "{ctx}");
                } else if !c.fin {
                    assert_eq!(kind(d), "wait", "{ctx}");
                } else {
                    // auto never fails where Packer connects, except on the contradiction.
                    assert_eq!(kind(d), "fallback", "{ctx}");
                }
            }
        }
    }

    #[test]
    fn messages_name_the_evidence() {
        let good = key("ssh-ed25519", 1);
        let evil = key("ssh-ed25519", 3);
        let console = ConsoleKeys::Complete(vec![good.clone()]);
        let e = |presented| Evidence {
            mode: Mode::Auto,
            presented,
            pinned: None,
            injected: None,
            console: &console,
            console_final: false,
            restricted: false,
        };
        assert_eq!(
            decide(&e(&good)),
            Decision::Accept {
                message: Some(format!(
                    "Host key verified from the console output: ED25519 SHA256:{}",
                    good.sha256()
                ))
            }
        );
        let Decision::Reject { message } = decide(&e(&evil)) else {
            panic!()
        };
        assert!(message.contains(&evil.fingerprint()), "{message}");
        assert!(message.contains(&good.fingerprint()), "{message}");
        assert!(message.contains("man in the middle"), "{message}");

        let none = ConsoleKeys::NoBlock;
        let d = decide(&Evidence {
            console: &none,
            console_final: true,
            ..e(&good)
        });
        let Decision::Fallback { warning } = d else {
            panic!("{d:?}")
        };
        assert!(warning.contains("lists no host keys"), "{warning}");
    }

    #[test]
    fn only_uncheckable_types_listed_falls_back_in_auto() {
        let good = key("ssh-ed25519", 1);
        let sk = key("sk-ssh-ed25519@openssh.com", 5);
        let console = ConsoleKeys::Complete(vec![sk]);
        let d = decide(&Evidence {
            mode: Mode::Auto,
            presented: &good,
            pinned: None,
            injected: None,
            console: &console,
            console_final: true,
            restricted: false,
        });
        assert_eq!(kind(&d), "fallback", "{d:?}");
    }

    /// A man in the middle presenting an ed25519 key when the console lists only RSA and ECDSA
    /// keys is not trusted on first use: rpack asks again for the listed types only (ignoring
    /// types it cannot check), then accepts only a listed key.
    #[test]
    fn a_key_of_an_unlisted_type_renegotiates_then_requires_a_listed_key() {
        let ed = key("ssh-ed25519", 1);
        let rsa = key("ssh-rsa", 2);
        let rsa_evil = key("ssh-rsa", 3);
        let ecdsa = key("ecdsa-sha2-nistp256", 4);
        let sk = key("sk-ssh-ed25519@openssh.com", 5);
        let console = ConsoleKeys::Complete(vec![rsa.clone(), sk, ecdsa.clone()]);
        for mode in [Mode::Auto, Mode::Console] {
            let e = |presented, restricted| Evidence {
                mode,
                presented,
                pinned: None,
                injected: None,
                console: &console,
                console_final: false,
                restricted,
            };
            let Decision::Renegotiate {
                algorithms,
                message,
            } = decide(&e(&ed, false))
            else {
                panic!("{mode:?}: {:?}", decide(&e(&ed, false)))
            };
            assert_eq!(algorithms, ["ecdsa-sha2-nistp256", "ssh-rsa"]);
            assert!(
                message.contains(&ed.fingerprint()) && message.contains(&rsa.fingerprint()),
                "{message}"
            );
            assert_eq!(
                decide(&e(&rsa, true)),
                Decision::Accept {
                    message: Some(format!(
                        "Host key verified from the console output: {}",
                        rsa.fingerprint()
                    ))
                }
            );
            let Decision::Reject { message } = decide(&e(&rsa_evil, true)) else {
                panic!()
            };
            assert!(
                message.contains("not the one its console lists")
                    && message.contains(&rsa_evil.fingerprint()),
                "{message}"
            );
            // A server that ignores the request is not trusted either.
            let Decision::Reject { message } = decide(&e(&ed, true)) else {
                panic!()
            };
            assert!(
                message.starts_with("Asked for the host key types"),
                "{message}"
            );
        }
        // A listed DSA key alone is not asked for (servers no longer offer DSA): the wait for
        // more evidence, then trust on first use, as with no checkable keys.
        let dss = key("ssh-dss", 6);
        let only_dss = ConsoleKeys::Complete(vec![dss]);
        for (fin, want) in [(false, "wait"), (true, "fallback")] {
            let d = decide(&Evidence {
                mode: Mode::Auto,
                presented: &ed,
                pinned: None,
                injected: None,
                console: &only_dss,
                console_final: fin,
                restricted: false,
            });
            assert_eq!(kind(&d), want, "{d:?}");
        }
        // An injected key that matches still wins in auto, whatever the console lists.
        let d = decide(&Evidence {
            mode: Mode::Auto,
            presented: &ed,
            pinned: None,
            injected: Some(&ed),
            console: &console,
            console_final: false,
            restricted: false,
        });
        assert_eq!(kind(&d), "accept", "{d:?}");
    }
}
