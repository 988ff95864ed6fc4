//! What runs on a host, apart from the protocol engines: choosing where mail goes (MX), and
//! writing bounces (DSN).

pub mod dsn;
pub mod mx;
