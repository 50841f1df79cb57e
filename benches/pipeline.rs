//! Load + validate + render + offline plan, for the reference application
//! and a synthetic project of 1,000 resources over 40 units.

// The schedule benchmarks' mixed project is written by the example, not here.
#[allow(dead_code)]
mod synthetic;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

// The same allocator as the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pipeline(root: &Path) -> usize {
    let (_, rendered, _) = driftless::load::load_environment(root, "dev").expect("valid project");
    rendered.stacks.iter().map(|s| s.template.len()).sum()
}

fn benches(c: &mut Criterion) {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR"));
    c.bench_function("reference app: load, validate, render, plan", |b| {
        b.iter(|| black_box(pipeline(reference)))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    synthetic::write_project(dir.path(), 40, 25).expect("synthetic project");
    c.bench_function(
        "1,000 resources over 40 units: load, validate, render, plan",
        |b| b.iter(|| black_box(pipeline(dir.path()))),
    );
    let stacks = tempfile::tempdir().expect("temp dir");
    synthetic::write_stacks_project(stacks.path(), 40).expect("40-stack project");
    c.bench_function("40 one-unit stacks: load, validate, render, plan", |b| {
        b.iter(|| black_box(pipeline(stacks.path())))
    });
}

criterion_group!(name = group; config = Criterion::default().sample_size(30); targets = benches);
criterion_main!(group);
