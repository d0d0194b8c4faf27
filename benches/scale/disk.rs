//! The file's size after redb's `Database::compact()`, and the disk's fsync latency beside it.

use std::{
    fs::File,
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

use tower_user_auth::store::{RedbStore, RedbStoreBuilder};

/// Compacts the database at `path` and opens the store on it with `builder`: the file's
/// size after compaction, and the store.
pub fn compact_and_open(
    path: &Path,
    builder: RedbStoreBuilder,
) -> Result<(u64, RedbStore), Box<dyn std::error::Error>> {
    let mut db = redb::Database::create(path)?;
    while db.compact()? {}
    let size = std::fs::metadata(path)?.len();
    Ok((size, builder.open_database(db)?))
}

/// Median of `rounds` × (write 4 KiB, `fdatasync`) to a file in `dir`.
pub fn fsync_median(dir: &Path, rounds: usize) -> std::io::Result<Duration> {
    let path = dir.join("fsync-probe");
    let mut file = File::create(&path)?;
    let block = [0x5a_u8; 4096];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        times.push(t0.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    times.sort_unstable();
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}
