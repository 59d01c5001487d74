//! Which login flow `login sso` uses (SPEC §5.1): the browser flow, or the
//! device authorization grant (RFC 8628) for machines that cannot show the
//! person a browser which reaches a loopback port (an SSH session, a
//! container, a Codespace).
//!
//! `auto` decides from a snapshot of the environment ([`Surroundings`]),
//! never from the live process environment, so every combination is a
//! plain unit test.

use url::Url;

use crate::config::FlowSetting;
use crate::env::ProcessEnv;
use crate::error::{Error, Result};

/// The login flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Browser,
    Device,
}

impl Flow {
    /// The name in `login sso`'s JSON (`"flow"`).
    pub fn name(self) -> &'static str {
        match self {
            Flow::Browser => "browser",
            Flow::Device => "device",
        }
    }
}

/// What the environment says about showing a browser (the default: a
/// desktop without `$BROWSER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Surroundings {
    /// `$BROWSER` names a command.
    pub browser_var: bool,
    /// `SSH_CONNECTION` or `SSH_TTY` is set.
    pub ssh: bool,
    /// `DISPLAY` or `WAYLAND_DISPLAY` is set.
    pub display: bool,
    /// Linux or a BSD, where a desktop needs `DISPLAY`/`WAYLAND_DISPLAY`
    /// (macOS and Windows always have one for the logged-in user).
    pub x11_platform: bool,
}

impl Surroundings {
    /// The snapshot of this process's platform.
    pub fn from_env(env: &ProcessEnv) -> Surroundings {
        let x11_platform = cfg!(any(
            target_os = "linux",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd",
            target_os = "dragonfly"
        ));
        Surroundings::from_env_on(env, x11_platform)
    }

    /// The snapshot, for a platform that does (or does not) need a display
    /// variable for a desktop. Empty variables count as unset.
    pub fn from_env_on(env: &ProcessEnv, x11_platform: bool) -> Surroundings {
        let set = |name: &str| env.get(name).is_some_and(|v| !v.trim().is_empty());
        Surroundings {
            browser_var: set("BROWSER"),
            ssh: set("SSH_CONNECTION") || set("SSH_TTY"),
            display: set("DISPLAY") || set("WAYLAND_DISPLAY"),
            x11_platform,
        }
    }

    /// Why no browser can be shown here, or `None` when one can.
    pub fn cannot_show_browser(&self) -> Option<&'static str> {
        if self.browser_var {
            return None;
        }
        if self.ssh {
            Some("this is an SSH session and BROWSER is not set")
        } else if self.x11_platform && !self.display {
            Some("neither DISPLAY nor WAYLAND_DISPLAY nor BROWSER is set")
        } else {
            None
        }
    }

    /// Why a browser can be shown here (when it can).
    fn can_show_browser(&self) -> &'static str {
        if self.browser_var {
            "BROWSER is set"
        } else if self.x11_platform {
            "a display is available (DISPLAY or WAYLAND_DISPLAY is set)"
        } else {
            "this platform has a desktop browser"
        }
    }
}

/// The flow chosen, why, and the device authorization endpoint when it is
/// the device flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub flow: Flow,
    pub reason: String,
    pub device_endpoint: Option<Url>,
}

/// Decides the flow. `forced_device` is `--device`; `device_endpoint`
/// looks the endpoint up (configured, else discovered), and is only asked
/// when the answer matters.
pub fn choose(
    setting: FlowSetting,
    forced_device: bool,
    here: &Surroundings,
    device_endpoint: impl FnOnce() -> Result<Option<Url>>,
) -> Result<Choice> {
    let forced = match (forced_device, setting) {
        (true, _) => Some("--device"),
        (false, FlowSetting::Device) => Some("OAUTH_SSO_FLOW=device"),
        _ => None,
    };
    if let Some(why) = forced {
        let endpoint = device_endpoint()?.ok_or_else(|| {
            Error::config(format!(
                "the device flow ({why}) needs a device authorization endpoint, and the IdP's metadata names none"
            ))
            .with_hint("set OAUTH_SSO_DEVICE_AUTHORIZATION_URL to the IdP's device authorization endpoint, or use the browser flow (OAUTH_SSO_FLOW=browser)")
        })?;
        return Ok(Choice {
            flow: Flow::Device,
            reason: why.to_owned(),
            device_endpoint: Some(endpoint),
        });
    }
    if setting == FlowSetting::Browser {
        return Ok(Choice {
            flow: Flow::Browser,
            reason: "OAUTH_SSO_FLOW=browser".to_owned(),
            device_endpoint: None,
        });
    }
    let Some(why) = here.cannot_show_browser() else {
        return Ok(Choice {
            flow: Flow::Browser,
            reason: format!("auto: {}", here.can_show_browser()),
            device_endpoint: None,
        });
    };
    // Discovery trouble is no reason to fail a login the browser flow may
    // still manage; a configuration error (an insecure endpoint) is.
    let found = match device_endpoint() {
        Ok(found) => found,
        Err(e) if e.exit_code() == 3 => return Err(e),
        Err(e) => {
            tracing::info!(target: "sso", "could not look up the device authorization endpoint ({})", e.message());
            None
        }
    };
    match found {
        Some(endpoint) => Ok(Choice {
            flow: Flow::Device,
            reason: format!(
                "auto: no browser can be shown here ({why}) and the IdP has a device authorization endpoint"
            ),
            device_endpoint: Some(endpoint),
        }),
        None => Ok(Choice {
            flow: Flow::Browser,
            reason: format!(
                "auto: no browser can be shown here ({why}), but the IdP has no device authorization endpoint (set OAUTH_SSO_DEVICE_AUTHORIZATION_URL if it has one)"
            ),
            device_endpoint: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE_URL: &str = "https://idp.test/device_authorization";

    fn endpoint(present: bool) -> impl FnOnce() -> Result<Option<Url>> {
        move || Ok(present.then(|| Url::parse(DEVICE_URL).unwrap()))
    }

    fn never() -> impl FnOnce() -> Result<Option<Url>> {
        || panic!("the device endpoint was looked up although the answer cannot matter")
    }

    fn auto(vars: &[(&str, &str)], x11: bool, has_endpoint: bool) -> Flow {
        let here = Surroundings::from_env_on(&ProcessEnv::from_pairs(vars.iter().copied()), x11);
        choose(FlowSetting::Auto, false, &here, endpoint(has_endpoint))
            .unwrap()
            .flow
    }

    #[test]
    fn auto_over_every_combination_of_ssh_display_and_browser() {
        use Flow::{Browser, Device};
        // (SSH, DISPLAY, BROWSER) on Linux/BSD, with a device endpoint.
        let table = [
            (false, false, false, Device),
            (false, false, true, Browser),
            (false, true, false, Browser),
            (false, true, true, Browser),
            (true, false, false, Device),
            (true, false, true, Browser),
            (true, true, false, Device),
            (true, true, true, Browser),
        ];
        for (ssh, display, browser, expected) in table {
            let mut vars = Vec::new();
            if ssh {
                vars.push(("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22"));
            }
            if display {
                vars.push(("DISPLAY", ":0"));
            }
            if browser {
                vars.push(("BROWSER", "w3m"));
            }
            let case = format!("ssh={ssh} display={display} browser={browser}");
            assert_eq!(auto(&vars, true, true), expected, "linux, {case}");
            // Without a device endpoint, always the browser flow.
            assert_eq!(auto(&vars, true, false), Browser, "no endpoint, {case}");
            // macOS/Windows: only SSH without BROWSER means no browser.
            let mac = if ssh && !browser { Device } else { Browser };
            assert_eq!(auto(&vars, false, true), mac, "macOS, {case}");
        }
    }

    #[test]
    fn the_other_variables_count_as_well_and_empty_ones_do_not() {
        assert_eq!(
            auto(&[("SSH_TTY", "/dev/pts/3"), ("DISPLAY", ":0")], true, true),
            Flow::Device
        );
        assert_eq!(
            auto(&[("WAYLAND_DISPLAY", "wayland-0")], true, true),
            Flow::Browser
        );
        assert_eq!(
            auto(&[("DISPLAY", ""), ("BROWSER", " ")], true, true),
            Flow::Device
        );
        assert_eq!(auto(&[("SSH_CONNECTION", "")], false, true), Flow::Browser);
    }

    #[test]
    fn reasons_say_why() {
        let headless =
            Surroundings::from_env_on(&ProcessEnv::from_pairs([("SSH_TTY", "/dev/pts/1")]), true);
        let c = choose(FlowSetting::Auto, false, &headless, endpoint(true)).unwrap();
        assert_eq!(
            c.device_endpoint.as_ref().map(Url::as_str),
            Some(DEVICE_URL)
        );
        assert!(
            c.reason.contains("SSH session")
                && c.reason.contains("has a device authorization endpoint"),
            "{}",
            c.reason
        );
        let c = choose(FlowSetting::Auto, false, &headless, endpoint(false)).unwrap();
        assert_eq!(c.flow, Flow::Browser);
        assert!(
            c.reason.contains("OAUTH_SSO_DEVICE_AUTHORIZATION_URL"),
            "{}",
            c.reason
        );
        let desktop = Surroundings::from_env_on(&ProcessEnv::from_pairs([("DISPLAY", ":1")]), true);
        let c = choose(FlowSetting::Auto, false, &desktop, never()).unwrap();
        assert_eq!(
            c.reason,
            "auto: a display is available (DISPLAY or WAYLAND_DISPLAY is set)"
        );
    }

    #[test]
    fn auto_falls_back_on_discovery_trouble_but_not_on_configuration_errors() {
        let headless = Surroundings::from_env_on(&ProcessEnv::default(), true);
        let c = choose(FlowSetting::Auto, false, &headless, || {
            Err(Error::auth("metadata discovery failed"))
        })
        .unwrap();
        assert_eq!(c.flow, Flow::Browser);
        let err = choose(FlowSetting::Auto, false, &headless, || {
            Err(Error::config("plain http"))
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 3);
    }

    #[test]
    fn forced_flows() {
        let desktop = Surroundings::from_env_on(&ProcessEnv::from_pairs([("DISPLAY", ":1")]), true);
        let headless = Surroundings::from_env_on(&ProcessEnv::default(), true);
        let c = choose(FlowSetting::Auto, true, &desktop, endpoint(true)).unwrap();
        assert_eq!((c.flow, c.reason.as_str()), (Flow::Device, "--device"));
        let c = choose(FlowSetting::Device, false, &desktop, endpoint(true)).unwrap();
        assert_eq!(
            (c.flow, c.reason.as_str()),
            (Flow::Device, "OAUTH_SSO_FLOW=device")
        );
        let c = choose(FlowSetting::Browser, false, &headless, never()).unwrap();
        assert_eq!(c.flow, Flow::Browser);
        // --device wins over OAUTH_SSO_FLOW=browser.
        let c = choose(FlowSetting::Browser, true, &desktop, endpoint(true)).unwrap();
        assert_eq!(c.flow, Flow::Device);

        for (setting, flag) in [(FlowSetting::Device, false), (FlowSetting::Auto, true)] {
            let err = choose(setting, flag, &desktop, endpoint(false)).unwrap_err();
            assert_eq!(err.exit_code(), 3);
            assert!(err
                .hint()
                .unwrap()
                .contains("OAUTH_SSO_DEVICE_AUTHORIZATION_URL"));
        }
    }
}
