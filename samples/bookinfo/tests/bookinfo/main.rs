//! Bookinfo's processes end to end: real `bookinfo` processes on free loopback ports, wired
//! by environment variables (no mesh), by a recording forward proxy (`HTTP_PROXY`), or by a
//! real mesh-proxy. Every process is killed by PID when its test ends.

mod support;

mod failures;
mod mesh;
mod page;
mod process;
mod session;
mod timeouts;
