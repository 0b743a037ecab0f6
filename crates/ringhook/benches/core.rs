//! Native speed of signing and verifying: `cargo bench -p ringhook --bench core`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringhook::protocol::signature::{self, ReceivedHeaders, SecretKey, Verifier};

fn body(len: usize) -> String {
    let mut s = String::from(
        r#"{"id":"evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7","event":"call.completed","callId":"call_123","status":"completed","timestamp":1764355200,"data":{"note":""#,
    );
    while s.len() < len - 3 {
        s.push('x');
    }
    s.push_str("\"}}");
    s
}

fn bench(c: &mut Criterion) {
    let secret = SecretKey::generate([42; 32]);
    let mut group = c.benchmark_group("signature");
    for len in [1024usize, 65536] {
        let body = body(len);
        let signed = signature::sign(
            std::slice::from_ref(&secret),
            "evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7",
            1_764_355_200,
            body.as_bytes(),
        );
        let headers = ReceivedHeaders {
            x_webhook_signature: Some(&signed.x_webhook_signature),
            webhook_id: Some(&signed.webhook_id),
            webhook_timestamp: Some(&signed.webhook_timestamp),
            webhook_signature: Some(&signed.webhook_signature),
        };
        let guide_only = ReceivedHeaders {
            x_webhook_signature: Some(&signed.x_webhook_signature),
            ..Default::default()
        };
        let verifier = Verifier::new(secret.clone());
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("sign", len), &body, |b, body| {
            b.iter(|| {
                signature::sign(
                    std::slice::from_ref(&secret),
                    "evt_1",
                    1_764_355_200,
                    black_box(body.as_bytes()),
                )
            })
        });
        group.bench_with_input(BenchmarkId::new("verify_standard", len), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify_signature(black_box(body.as_bytes()), &headers, 1_764_355_200)
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("verify_body_signature", len), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify_signature(black_box(body.as_bytes()), &guide_only, 1_764_355_200)
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("verify_and_parse_event", len), &body, |b, body| {
            b.iter(|| verifier.verify(black_box(body), &headers, 1_764_355_200).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
