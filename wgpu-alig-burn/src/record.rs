//! The optimizer's record in burn's burnpack format, next to burn's own optimizer records: the
//! whole ALI-G state (config, momentum, counters, step records) as one byte tensor, and the
//! module path of each trainable parameter as metadata.

use std::path::Path;

use burn_pack::{Bytes, DType, Reader, Tensor, Writer};
use wgpu_alig::AligState;

use crate::error::{Error, Result};
use crate::optimizer::AligOptimizer;
use crate::shared_device::SharedDevice;

/// The tensor holding the encoded [`AligState`].
const STATE_TENSOR: &str = "alig.state";
/// Metadata naming what the record holds.
const FORMAT_KEY: &str = "format";
const FORMAT: &str = "wgpu-alig-burn optimizer record";

impl AligOptimizer {
    /// The optimizer's record as burnpack bytes, waiting for the device.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.writer()?.into_bytes().map_err(record_error)?.to_vec())
    }

    /// Saves the optimizer's record to a burnpack file, waiting for the device.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.writer()?
            .overwrite(true)
            .auto_extension(false)
            .write_to_file(path)
            .map_err(record_error)
    }

    /// An optimizer continuing the run `bytes` (from [`AligOptimizer::to_bytes`]) recorded:
    /// its first step applies the state to the module, which must have the trainable
    /// parameters (paths and sizes) of the saved one.
    pub fn from_bytes(shared: &SharedDevice, bytes: Vec<u8>) -> Result<Self> {
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(record_error)?;
        Self::from_reader(shared, &reader)
    }

    /// [`AligOptimizer::from_bytes`] from a file written by [`AligOptimizer::save`].
    pub fn load(shared: &SharedDevice, path: impl AsRef<Path>) -> Result<Self> {
        let reader = Reader::from_file(path).map_err(record_error)?;
        Self::from_reader(shared, &reader)
    }

    fn from_reader(shared: &SharedDevice, reader: &Reader) -> Result<Self> {
        if reader.metadata().get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
            return Err(Error::Record(format!("not a {FORMAT}")));
        }
        let bytes = reader.tensor_data(STATE_TENSOR).map_err(record_error)?;
        Self::restored(shared, AligState::from_bytes(&bytes)?)
    }

    fn writer(&self) -> Result<Writer> {
        let state = self
            .state()?
            .ok_or_else(|| Error::Record("nothing to save before the first step".into()))?;
        let bytes = state.to_bytes();
        let len = bytes.len();
        let tensor = Tensor::new(
            STATE_TENSOR.to_string(),
            DType::U8,
            vec![len],
            None,
            Bytes::from_bytes_vec(bytes),
        );
        let mut writer = Writer::new(vec![tensor]).with_metadata(FORMAT_KEY, FORMAT);
        for (index, (path, elements)) in state.tensors.iter().enumerate() {
            writer = writer.with_metadata(&format!("param.{index}"), &format!("{path} {elements}"));
        }
        Ok(writer)
    }
}

fn record_error(error: impl std::fmt::Debug) -> Error {
    Error::Record(format!("{error:?}"))
}
