//! HTTPS for `serve`: rustls (with ring, so no system OpenSSL), certificate chain and key from
//! PEM files (`server.tls_cert`, `server.tls_key`). Connections are served by hyper's HTTP/1
//! like the plain listener, with the same router, and shut down gracefully the same way: stop
//! accepting, let requests in progress finish, drop what is left after the grace period.

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io::{self, BufReader};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// Reads the certificate chain and key into an acceptor, naming the file at fault.
pub fn acceptor(cert: &str, key: &str) -> io::Result<TlsAcceptor> {
    let bad =
        |what: &str, e: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"));
    let open = |p: &str| {
        std::fs::File::open(p)
            .map(BufReader::new)
            .map_err(|e| bad(&format!("server.tls_* file {p}"), e.to_string()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&format!("server.tls_cert {cert}"), e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(
            &format!("server.tls_cert {cert}"),
            "no PEM certificate in it".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| bad(&format!("server.tls_key {key}"), e.to_string()))?
        .ok_or_else(|| {
            bad(
                &format!("server.tls_key {key}"),
                "no PEM private key in it".into(),
            )
        })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("server.tls_cert/tls_key", e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Serves `router` over TLS until `stop` resolves, then drains connections for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let acceptor = acceptor.clone();
        let svc = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // A handshake that stalls must not hold a task forever.
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let conn = builder.serve_connection(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            secs = grace.as_secs(),
            "TLS connections still open after server.shutdown_timeout_secs; dropping them"
        );
    }
    Ok(())
}
