//! Security: isolation between owners and accounts, limits on every input, cookies, HTTP
//! headers, hostile hosts and agent output, the spool, replays and error texts.

mod agent_output;
mod api_limits;
mod connections;
mod cookies;
mod deploy;
mod error_text;
mod hostile_host;
mod http;
mod isolation;
mod replay;
mod spool;
mod terminal;
mod trailer;
