//! A TCP forwarder between a server and its database, to cut the database
//! off and bring it back while the server keeps running.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Forwards connections from a port on 127.0.0.1 to `target`. It runs on a
/// runtime of its own, so it keeps forwarding while the test thread blocks
/// (as `Server::start` does).
pub struct Forwarder {
    /// The local port clients connect to.
    pub port: u16,
    target: SocketAddr,
    runtime: Option<Runtime>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Forwarder {
    /// Starts forwarding from a free port to `target`.
    pub fn start(target: SocketAddr) -> Forwarder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut forwarder = Forwarder {
            port: 0,
            target,
            runtime: Some(runtime),
            accept: None,
            connections: Arc::default(),
        };
        forwarder.listen(0);
        forwarder
    }

    /// Accepts again on the same port after `stop`.
    pub fn resume(&mut self) {
        assert!(self.accept.is_none(), "the forwarder is running");
        self.listen(self.port);
    }

    fn listen(&mut self, port: u16) {
        // std sets SO_REUSEADDR, so the port can be bound again while
        // connections of the previous run linger in TIME_WAIT.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        self.port = listener.local_addr().unwrap().port();
        let target = self.target;
        let connections = Arc::clone(&self.connections);
        let runtime = self.runtime.as_ref().unwrap();
        self.accept = Some(runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let connection = tokio::spawn(forward(inbound, target));
                connections.lock().unwrap().push(connection);
            }
        }));
    }

    /// Closes the port and every forwarded connection, as a database going
    /// away would; returns once all of them are closed.
    pub async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let connections = std::mem::take(&mut *self.connections.lock().unwrap());
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // Tests drop it inside their own runtime, where blocking is refused.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
