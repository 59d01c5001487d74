//! `lmi doctor` (SPEC §3.1): every check in order, the failing scenarios
//! with their hints, the time limits, and no secret in the output.

mod checks;
