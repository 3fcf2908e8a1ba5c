//! Load generator for `bench/scale.sh`: creates logins in bulk, offers a paced read
//! load while recording latency per second, and runs a mixed churn load.
//!
//! ```text
//! scale_load create --url URL --n 250000 --concurrency 64 --out tokens.txt
//! scale_load reads  --url URL --tokens tokens.txt --rate 2000 --seconds 300 --out reads.csv
//! scale_load churn  --url URL --users 50000 --rate 2000 --seconds 600
//! ```
//!
//! The API key comes from `API_KEY`. `reads` and `churn` are open-loop: each client
//! sends on its own schedule (together `--rate` per second), and a tick missed while a
//! request is in flight is counted as skipped, so a stalled server shows as lost
//! throughput instead of being hidden by a closed loop. Both stop early on SIGINT or
//! SIGTERM and still print what they measured.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use reqwest::Client;
use serde_json::{json, Value};
use tokio::time::MissedTickBehavior;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Create `n` logins (one user each) as fast as `concurrency` allows.
    Create {
        #[arg(long)]
        url: String,
        #[arg(long)]
        n: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
        /// User id prefix.
        #[arg(long, default_value = "scale-")]
        prefix: String,
        /// Bytes of session data per login.
        #[arg(long, default_value_t = 100)]
        data_bytes: usize,
        /// Writes one session token per line.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Writes one refresh token per line.
        #[arg(long)]
        refresh_out: Option<PathBuf>,
    },
    /// Paced `GET /v1/sessions/current` with random tokens; per-second CSV.
    Reads {
        #[arg(long)]
        url: String,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
        #[arg(long, default_value_t = 300)]
        seconds: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Memory per login and per tombstone: create `n` logins, refresh each once, then
    /// present each old refresh token again (reuse detection leaves a tombstone);
    /// `used_memory` of the Redis at `redis_port` is read between the steps. Run with
    /// events disabled and the refresh grace at 0.
    Reuse {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 20_000)]
        n: u64,
        #[arg(long)]
        redis_port: u16,
        #[arg(long, default_value_t = 32)]
        concurrency: u64,
    },
    /// Paced mix over a fixed user population: 45 % reads, 25 % creates, 20 %
    /// refreshes, 10 % sign-outs.
    Churn {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 50_000)]
        users: u64,
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        #[arg(long, default_value_t = 32)]
        clients: u64,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
}

fn client() -> Result<Client> {
    Ok(Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(256)
        .build()?)
}

fn api_key() -> Result<String> {
    std::env::var("API_KEY").context("set API_KEY to a key with sessions:read,sessions:write")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A small xorshift generator: each client gets its own, no shared state.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn data(bytes: usize) -> Value {
    json!({ "pad": "x".repeat(bytes.saturating_sub(10)) })
}

async fn create(
    http: &Client,
    url: &str,
    key: &str,
    user: &str,
    data: &Value,
) -> Result<(String, String)> {
    // A 503 is retryable (e.g. `not_replicated` with replicated durability).
    let mut attempts = 0;
    let response = loop {
        let response = http
            .post(format!("{url}/v1/sessions"))
            .bearer_auth(key)
            .json(&json!({ "user_id": user, "data": data }))
            .send()
            .await?;
        attempts += 1;
        match response.status().as_u16() {
            201 => break response,
            503 if attempts < 5 => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => bail!("create answered {}", response.status()),
        }
    };
    let body: Value = response.json().await?;
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("create answer without {name}"))
    };
    Ok((field("session_token")?, field("refresh_token")?))
}

async fn run_create(
    url: String,
    n: u64,
    concurrency: u64,
    prefix: String,
    data_bytes: usize,
    out: Option<PathBuf>,
    refresh_out: Option<PathBuf>,
) -> Result<()> {
    let http = client()?;
    let key = api_key()?;
    let next = Arc::new(AtomicU64::new(0));
    let tokens = Arc::new(Mutex::new(Vec::with_capacity(
        usize::try_from(n).unwrap_or(0),
    )));
    let body = data(data_bytes);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, key, url, next, tokens, prefix, body) = (
            http.clone(),
            key.clone(),
            url.clone(),
            next.clone(),
            tokens.clone(),
            prefix.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let pair = create(&http, &url, &key, &format!("{prefix}{i}"), &body).await?;
                tokens
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(pair);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "created {n} logins in {elapsed:.1} s ({:.0}/s), first at {} ms, last at {} ms (unix)",
        n as f64 / elapsed,
        unix_ms() - u64::try_from(started.elapsed().as_millis()).unwrap_or(0),
        unix_ms()
    );
    let tokens = tokens.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for (path, pick) in [(out, 0), (refresh_out, 1)] {
        let Some(path) = path else { continue };
        let mut text = String::with_capacity(tokens.len() * 50);
        for (session, refresh) in tokens.iter() {
            text.push_str(if pick == 0 { session } else { refresh });
            text.push('\n');
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Every request of a paced run: when it was sent and how long it took (`None`: it
/// failed), plus the ticks skipped while a request was still in flight.
#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<(u64, Option<u32>)>>,
    skipped: Mutex<Vec<(u64, u64)>>,
}

impl Recorder {
    fn record(&self, sent_unix_ms: u64, outcome: Option<Duration>) {
        let latency = outcome.map(|l| u32::try_from(l.as_micros()).unwrap_or(u32::MAX));
        if let Ok(mut r) = self.requests.lock() {
            r.push((sent_unix_ms, latency));
        }
    }
    fn skipped(&self, at_unix_ms: u64, n: u64) {
        if let Ok(mut s) = self.skipped.lock() {
            s.push((at_unix_ms, n));
        }
    }
    /// `sent_unix_ms,latency_us,ok` per request, then `skipped` lines
    /// (`at_unix_ms,count,skipped`).
    fn csv(&self) -> String {
        let mut out = String::from("unix_ms,latency_us,outcome\n");
        if let Ok(r) = self.requests.lock() {
            for (at, latency) in r.iter() {
                let _ = match latency {
                    Some(l) => writeln!(out, "{at},{l},ok"),
                    None => writeln!(out, "{at},0,error"),
                };
            }
        }
        if let Ok(s) = self.skipped.lock() {
            for (at, n) in s.iter() {
                let _ = writeln!(out, "{at},{n},skipped");
            }
        }
        out
    }
}

/// Runs `clients` paced tasks for `seconds` (or until a signal); each tick calls `op`.
async fn paced<F, Fut>(rate: u64, clients: u64, seconds: u64, recorder: Arc<Recorder>, op: F)
where
    F: Fn(u64, Rng) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let period = Duration::from_secs_f64(clients as f64 / rate.max(1) as f64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (op, recorder) = (op.clone(), recorder.clone());
        tasks.push(tokio::spawn(async move {
            // Spread the clients' first ticks over one period.
            let offset = period.mul_f64(c as f64 / clients as f64);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut last = tokio::time::Instant::now();
            loop {
                let at = tick.tick().await;
                if at >= deadline {
                    return;
                }
                // Ticks skipped because the previous request was still in flight.
                let missed =
                    at.saturating_duration_since(last).as_secs_f64() / period.as_secs_f64();
                if missed > 1.5 {
                    recorder.skipped(unix_ms(), missed.round() as u64 - 1);
                }
                last = at;
                op(c, Rng(rng.next() | 1)).await;
            }
        }));
    }
    let all = futures_join(tasks);
    tokio::select! {
        () = all => {}
        _ = tokio::signal::ctrl_c() => {}
        () = sigterm() => {}
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

async fn run_reads(
    url: String,
    tokens: PathBuf,
    rate: u64,
    clients: u64,
    seconds: u64,
    out: PathBuf,
) -> Result<()> {
    let http = client()?;
    let key = api_key()?;
    let tokens: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(&tokens)
            .with_context(|| format!("reading {}", tokens.display()))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    if tokens.is_empty() {
        bail!("no tokens");
    }
    let recorder = Arc::new(Recorder::default());
    let rec = recorder.clone();
    paced(
        rate,
        clients,
        seconds,
        recorder.clone(),
        move |_, mut rng| {
            let (http, key, url, tokens, rec) = (
                http.clone(),
                key.clone(),
                url.clone(),
                tokens.clone(),
                rec.clone(),
            );
            async move {
                let token = &tokens[usize::try_from(rng.below(tokens.len() as u64)).unwrap_or(0)];
                let sent = unix_ms();
                let started = Instant::now();
                let result = http
                    .get(format!("{url}/v1/sessions/current?touch=false"))
                    .bearer_auth(&key)
                    .header("X-Session-Token", token)
                    .send()
                    .await;
                let ok = match result {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                rec.record(sent, ok.then(|| started.elapsed()));
            }
        },
    )
    .await;
    std::fs::write(&out, recorder.csv()).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// What one churn client remembers of the logins it made.
#[derive(Default, Clone)]
struct Login {
    session: String,
    refresh: String,
}

async fn run_churn(url: String, users: u64, rate: u64, clients: u64, seconds: u64) -> Result<()> {
    let http = client()?;
    let key = api_key()?;
    let body = data(100);
    let counts: Arc<[AtomicU64; 8]> = Arc::new(Default::default());
    // Per client: a ring of its recent logins (shared between its ticks).
    let rings: Arc<Vec<Mutex<Vec<Login>>>> =
        Arc::new((0..clients).map(|_| Mutex::new(Vec::new())).collect());
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    let c2 = counts.clone();
    paced(rate, clients, seconds, recorder.clone(), move |client, mut rng| {
        let (http, key, url, body, counts, rings) = (
            http.clone(),
            key.clone(),
            url.clone(),
            body.clone(),
            c2.clone(),
            rings.clone(),
        );
        async move {
            let slot = usize::try_from(client).unwrap_or(0);
            let pick = {
                let ring = rings[slot].lock().ok();
                ring.and_then(|r| {
                    (!r.is_empty())
                        .then(|| r[usize::try_from(rng.below(r.len() as u64)).unwrap_or(0)].clone())
                })
            };
            let roll = rng.below(100);
            let (kind, ok) = match (roll, pick) {
                (0..45, Some(login)) => {
                    let r = http
                        .get(format!("{url}/v1/sessions/current"))
                        .bearer_auth(&key)
                        .header("X-Session-Token", &login.session)
                        .send()
                        .await;
                    (0, matches!(r, Ok(r) if r.status().is_success() || r.status().as_u16() == 404))
                }
                (45..65, Some(login)) => {
                    let r = http
                        .post(format!("{url}/v1/sessions/refresh"))
                        .bearer_auth(&key)
                        .json(&json!({ "refresh_token": login.refresh }))
                        .send()
                        .await;
                    let fresh = match r {
                        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                        Ok(r) if r.status().as_u16() == 400 => None,
                        _ => {
                            counts[7].fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    };
                    if let (Some(v), Ok(mut ring)) = (fresh, rings[slot].lock()) {
                        if let (Some(s), Some(f)) = (
                            v.get("session_token").and_then(Value::as_str),
                            v.get("refresh_token").and_then(Value::as_str),
                        ) {
                            ring.retain(|l| l.refresh != login.refresh);
                            ring.push(Login {
                                session: s.to_owned(),
                                refresh: f.to_owned(),
                            });
                        }
                    }
                    (1, true)
                }
                (65..75, Some(login)) => {
                    let r = http
                        .post(format!("{url}/v1/refresh-tokens/revoke"))
                        .bearer_auth(&key)
                        .json(&json!({ "refresh_token": login.refresh }))
                        .send()
                        .await;
                    if let Ok(mut ring) = rings[slot].lock() {
                        ring.retain(|l| l.refresh != login.refresh);
                    }
                    (2, matches!(r, Ok(r) if r.status().is_success() || r.status().as_u16() == 404))
                }
                _ => {
                    let user = format!("churn-{}", rng.below(users));
                    match create(&http, &url, &key, &user, &body).await {
                        Ok((session, refresh)) => {
                            if let Ok(mut ring) = rings[slot].lock() {
                                if ring.len() >= 64 {
                                    ring.remove(0);
                                }
                                ring.push(Login { session, refresh });
                            }
                            (3, true)
                        }
                        Err(_) => (3, false),
                    }
                }
            };
            counts[kind].fetch_add(1, Ordering::Relaxed);
            if !ok {
                counts[7].fetch_add(1, Ordering::Relaxed);
            }
        }
    })
    .await;
    let n = |i: usize| counts[i].load(Ordering::Relaxed);
    let total = n(0) + n(1) + n(2) + n(3);
    println!(
        "churn: {total} requests in {:.0} s: reads {}, refreshes {}, sign-outs {}, creates {}, failed {}",
        started.elapsed().as_secs_f64(),
        n(0),
        n(1),
        n(2),
        n(3),
        n(7)
    );
    Ok(())
}

fn used_memory(port: u16) -> Result<i64> {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "INFO", "memory"])
        .output()
        .context("running redis-cli")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no used_memory in INFO")
}

/// Runs `f(i)` for `i` in `0..n` over `concurrency` tasks.
async fn for_each<F, Fut>(n: u64, concurrency: u64, f: F) -> Result<()>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                f(i).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn refresh(http: &Client, url: &str, key: &str, token: &str) -> Result<(u16, Value)> {
    let response = http
        .post(format!("{url}/v1/sessions/refresh"))
        .bearer_auth(key)
        .json(&json!({ "refresh_token": token }))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Refreshes with the refresh token stored for login `i` (the one created first: a later
/// call presents it again).
async fn refresh_stored(
    http: &Client,
    url: &str,
    key: &str,
    tokens: &[Mutex<String>],
    i: u64,
) -> Result<(u16, Value)> {
    let old = tokens[usize::try_from(i).unwrap_or(0)]
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    refresh(http, url, key, &old).await
}

async fn run_reuse(url: String, n: u64, redis_port: u16, concurrency: u64) -> Result<()> {
    let http = client()?;
    let key = api_key()?;
    let body = data(100);
    let tokens: Arc<Vec<Mutex<String>>> =
        Arc::new((0..n).map(|_| Mutex::new(String::new())).collect());
    let slot = |i: u64| usize::try_from(i).unwrap_or(0);
    let m0 = used_memory(redis_port)?;
    let (h, k, u, t) = (http.clone(), key.clone(), url.clone(), tokens.clone());
    for_each(n, concurrency, move |i| {
        let (h, k, u, t, body) = (h.clone(), k.clone(), u.clone(), t.clone(), body.clone());
        async move {
            let (_, refresh_token) = create(&h, &u, &k, &format!("tomb-{i}"), &body).await?;
            *t[slot(i)].lock().map_err(|_| anyhow::anyhow!("poisoned"))? = refresh_token;
            Ok(())
        }
    })
    .await?;
    let m1 = used_memory(redis_port)?;
    let (h, k, u, t) = (http.clone(), key.clone(), url.clone(), tokens.clone());
    for_each(n, concurrency, move |i| {
        let (h, k, u, t) = (h.clone(), k.clone(), u.clone(), t.clone());
        async move {
            let (status, _) = refresh_stored(&h, &u, &k, &t, i).await?;
            if status != 200 {
                bail!("refresh answered {status}");
            }
            Ok(())
        }
    })
    .await?;
    let m2 = used_memory(redis_port)?;
    let (h, k, u, t) = (http.clone(), key.clone(), url.clone(), tokens.clone());
    for_each(n, concurrency, move |i| {
        let (h, k, u, t) = (h.clone(), k.clone(), u.clone(), t.clone());
        async move {
            let (status, body) = refresh_stored(&h, &u, &k, &t, i).await?;
            let code = body.get("code").and_then(Value::as_str).unwrap_or_default();
            if status != 400 || code != "reuse_detected" {
                bail!("re-presented refresh token answered {status} {code}");
            }
            Ok(())
        }
    })
    .await?;
    let m3 = used_memory(redis_port)?;
    let per = |m: i64| (m - m0) as f64 / n as f64;
    println!("logins: {n} (100 B data each); used_memory growth per login:");
    println!("  live, after create:          {:.0} B", per(m1));
    println!("  live, after one refresh:     {:.0} B", per(m2));
    println!("  tombstone, after reuse:      {:.0} B", per(m3));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().mode {
        Mode::Create {
            url,
            n,
            concurrency,
            prefix,
            data_bytes,
            out,
            refresh_out,
        } => run_create(url, n, concurrency, prefix, data_bytes, out, refresh_out).await,
        Mode::Reads {
            url,
            tokens,
            rate,
            clients,
            seconds,
            out,
        } => run_reads(url, tokens, rate, clients, seconds, out).await,
        Mode::Reuse {
            url,
            n,
            redis_port,
            concurrency,
        } => run_reuse(url, n, redis_port, concurrency).await,
        Mode::Churn {
            url,
            users,
            rate,
            clients,
            seconds,
        } => run_churn(url, users, rate, clients, seconds).await,
    }
}
