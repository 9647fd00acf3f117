//! `junction bench --js`: JetStream publish and consume rates through
//! async-nats' JetStream API. Publishes with up to `window` PubAcks in
//! flight, checks the stream holds every acknowledged message, then reads
//! them back with a durable pull consumer that fetches `batch` at a time and
//! acks each. The stream is deleted at the end.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;

use super::bench::report::BenchResult;
use super::ConnArgs;

/// One JetStream scenario.
#[derive(Debug, Clone)]
pub struct JsConfig {
    pub subject: String,
    pub msgs: u64,
    pub size: usize,
    pub memory: bool,
    /// PubAcks awaited at most at once (1 publishes synchronously).
    pub window: usize,
    /// Messages fetched per pull request.
    pub batch: usize,
    pub max_time: Duration,
}

const STREAM: &str = "JUNCTION_BENCH";

pub async fn bench_jetstream(conn: &ConnArgs, cfg: &JsConfig) -> Result<BenchResult> {
    let client = conn.connect("junction bench --js").await?;
    let js = jetstream::new(client);
    let _ = js.delete_stream(STREAM).await;
    let mut stream = js
        .create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec![cfg.subject.clone()],
            storage: if cfg.memory {
                stream::StorageType::Memory
            } else {
                stream::StorageType::File
            },
            ..Default::default()
        })
        .await
        .context("creating the bench stream")?;
    let run = tokio::time::timeout(cfg.max_time, async {
        let payload = bytes::Bytes::from(vec![b'x'; cfg.size]);
        let started = Instant::now();
        let mut in_flight = VecDeque::new();
        for _ in 0..cfg.msgs {
            if in_flight.len() >= cfg.window.max(1) {
                let ack: jetstream::context::PublishAckFuture = in_flight.pop_front().expect("in flight");
                ack.await.context("PubAck")?;
            }
            in_flight.push_back(js.publish(cfg.subject.clone(), payload.clone()).await?);
        }
        for ack in in_flight {
            ack.await.context("PubAck")?;
        }
        let pub_secs = started.elapsed().as_secs_f64();
        let stored = stream.info().await?.state.messages;
        if stored != cfg.msgs {
            bail!(
                "the stream holds {stored} messages, not the {} acknowledged",
                cfg.msgs
            );
        }
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("bench".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await?;
        let started = Instant::now();
        let mut got = 0u64;
        while got < cfg.msgs {
            let mut batch = consumer
                .fetch()
                .max_messages(cfg.batch)
                .expires(Duration::from_secs(5))
                .messages()
                .await?;
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
                m.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                got += 1;
            }
        }
        let sub_secs = started.elapsed().as_secs_f64();
        Ok::<_, anyhow::Error>((pub_secs, sub_secs))
    })
    .await;
    let _ = js.delete_stream(STREAM).await;
    let (pub_secs, sub_secs) = run.with_context(|| format!("not done within {:?}", cfg.max_time))??;
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    Ok(BenchResult {
        mode: "jetstream".into(),
        subject: cfg.subject.clone(),
        msgs: cfg.msgs,
        size: cfg.size,
        pubs: 1,
        subs: 1,
        pub_msgs: Some(cfg.msgs),
        pub_secs: Some(pub_secs),
        pub_msgs_per_sec: Some(rate(cfg.msgs, pub_secs)),
        pub_mb_per_sec: Some(rate(cfg.msgs * cfg.size as u64, pub_secs) / 1e6),
        sub_msgs: Some(cfg.msgs),
        sub_secs: Some(sub_secs),
        sub_msgs_per_sec: Some(rate(cfg.msgs, sub_secs)),
        sub_mb_per_sec: Some(rate(cfg.msgs * cfg.size as u64, sub_secs) / 1e6),
        ..BenchResult::default()
    })
}
