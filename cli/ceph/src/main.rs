use std::time::Duration;
#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("OXCEPH_LOG")).with_writer(std::io::stderr).init();
    let args: Vec<String> = std::env::args().collect();
    let conf = config::Config::load("ceph", "client.admin".parse().unwrap(), Some(std::path::Path::new(&args[1]))).unwrap();
    let mut opts = monc::MonClientOptions::default();
    opts.connect_timeout = Duration::from_secs(10);
    let mc = monc::MonClient::connect(conf, opts).await.unwrap();
    let r = if args.get(3).map(|s| s == "mgr").unwrap_or(false) { mc.mgr_command(vec![args[2].clone()], bytes::Bytes::new()).await.unwrap() } else { mc.command(vec![args[2].clone()], bytes::Bytes::new()).await.unwrap() };
    println!("r={} rs={} out={}", r.r, r.rs, String::from_utf8_lossy(&r.outbl));
}
