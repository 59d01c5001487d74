//! `socks5://` proxies are used, never bypassed.

use crate::support::sandbox_for;
use crate::support::socks::Socks5;

#[test]
fn a_socks5_proxy_is_used_not_bypassed() {
    for (var, scheme, url, expected) in [
        (
            "ALL_PROXY",
            "socks5h",
            "https://idp.example.test/token",
            "idp.example.test:443",
        ),
        (
            "HTTPS_PROXY",
            "socks5",
            "https://192.0.2.1/token",
            "192.0.2.1:443",
        ),
    ] {
        let proxy = Socks5::start();
        let mut sb = sandbox_for(url, "HTTP_TIMEOUT=3\n");
        sb.var(var, format!("{scheme}://127.0.0.1:{}", proxy.port));
        let out = sb.run(&["auth", "token"]);
        out.assert_code(4);
        assert_eq!(proxy.targets(), [expected], "{var}: {}", out.stderr);
    }
}
