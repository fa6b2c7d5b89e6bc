//! An in-memory export for the tests.

use bytes::Bytes;
use std::io;
use std::sync::Mutex;

pub struct Mem {
    pub data: Mutex<Vec<u8>>,
    pub read_only: bool,
    pub flushes: Mutex<u32>,
}

impl Mem {
    pub fn new(size: usize, read_only: bool) -> Mem {
        Mem { data: Mutex::new(vec![0u8; size]), read_only, flushes: Mutex::new(0) }
    }
}

impl nbd::Export for Mem {
    fn size(&self) -> u64 {
        self.data.lock().unwrap().len() as u64
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    async fn read(&self, off: u64, len: u32) -> io::Result<Bytes> {
        let d = self.data.lock().unwrap();
        Ok(Bytes::copy_from_slice(&d[off as usize..off as usize + len as usize]))
    }
    async fn write(&self, off: u64, data: Bytes) -> io::Result<()> {
        self.data.lock().unwrap()[off as usize..off as usize + data.len()].copy_from_slice(&data);
        Ok(())
    }
    async fn flush(&self) -> io::Result<()> {
        *self.flushes.lock().unwrap() += 1;
        Ok(())
    }
    async fn trim(&self, off: u64, len: u32) -> io::Result<()> {
        self.data.lock().unwrap()[off as usize..off as usize + len as usize].fill(0);
        Ok(())
    }
    async fn write_zeroes(&self, off: u64, len: u32) -> io::Result<()> {
        self.trim(off, len).await
    }
}
