//! Heap one TLS client configuration keeps alive, measured with a counting
//! allocator: whatsapp-rust's WebSocket transport, given no connector, builds
//! `default_tls_connector()` at every connect, and each TLS stream keeps its
//! configuration (`Arc<rustls::ClientConfig>`) for the connection's life. So
//! without a shared connector every connected tenant holds a configuration of
//! its own; with one, all of them share a single one.
//!
//! `cargo run --release -- [N]` (default 1000) prints the live heap per
//! configuration and the time to build one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use whatsapp_rust_tokio_transport::default_tls_connector;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only records the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: tls-config-bench [N > 0]");
            std::process::exit(2);
        }
    };
    // The first call installs the process-wide crypto provider: not per connection.
    drop(default_tls_connector());

    // Room for the handles first, so only the configurations are counted.
    let mut own = Vec::with_capacity(n);
    let mut shared = Vec::with_capacity(n);

    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    own.extend((0..n).map(|_| default_tls_connector()));
    let build = started.elapsed();
    let per_own = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    own.clear();

    let before = LIVE.load(Ordering::Relaxed);
    let one = std::sync::Arc::new(default_tls_connector());
    shared.extend((0..n).map(|_| one.clone()));
    let total_shared = (LIVE.load(Ordering::Relaxed) - before) as f64;

    println!("connections: {n}");
    println!(
        "a configuration per connection (whatsapp-rust's default): {:.1} KiB of live heap per connection, {:.3} ms to build each",
        per_own / 1024.0,
        build.as_secs_f64() * 1000.0 / n as f64
    );
    println!(
        "one shared configuration: {:.1} KiB in all, {:.3} KiB per connection",
        total_shared / 1024.0,
        total_shared / n as f64 / 1024.0
    );
}
