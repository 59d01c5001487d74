//! The session agent (SPEC §9). The client's side: `client_refusals`
//! (sockets that do not answer, are not sockets, or are another user's,
//! and a peer that speaks the protocol); `ssh_forwarding` (a real sshd and
//! `ssh -R`, the laptop's session from a real browser login into a real
//! keychain, counted at the IdP and the API); `ssh_server` starts sshd.

mod client_refusals;
mod ssh_forwarding;
mod ssh_server;
