//! [`Embedding`]: a text's vector, with the similarity arithmetic the memory
//! needs and a byte form for storing it (a `BLOB`/`bytea` column).

use super::MemoryError;

/// A dense vector standing for a text's meaning. Those made by the
/// [`Embedder`](super::Embedder) have unit length, so their dot product is
/// their cosine similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Wraps `values` as they are.
    pub fn new(values: Vec<f32>) -> Self {
        Self(values)
    }

    /// Wraps `values` scaled to unit length (a zero vector stays zero).
    pub fn normalized(mut values: Vec<f32>) -> Self {
        let norm = l2_norm(&values);
        if norm > 0.0 {
            values.iter_mut().for_each(|value| *value /= norm);
        }
        Self(values)
    }

    /// The number of dimensions.
    pub fn dims(&self) -> usize {
        self.0.len()
    }

    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The values, owned.
    pub fn into_vec(self) -> Vec<f32> {
        self.0
    }

    /// The Euclidean length.
    pub fn norm(&self) -> f32 {
        l2_norm(&self.0)
    }

    /// The dot product; for unit vectors, the cosine similarity. Vectors of
    /// different lengths are an error rather than a silently shorter sum.
    pub fn dot(&self, other: &Embedding) -> Result<f32, MemoryError> {
        if self.dims() != other.dims() {
            return Err(MemoryError::Dimensions {
                expected: self.dims(),
                actual: other.dims(),
            });
        }
        Ok(dot(&self.0, &other.0))
    }

    /// The cosine similarity, from -1 (opposite) to 1 (same direction); 0
    /// when either vector is zero.
    pub fn cosine(&self, other: &Embedding) -> Result<f32, MemoryError> {
        let norms = self.norm() * other.norm();
        let dot = self.dot(other)?;
        Ok(if norms > 0.0 { dot / norms } else { 0.0 })
    }

    /// The values as little-endian `f32`s, 4 bytes each.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect()
    }

    /// Reads what [`Embedding::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MemoryError> {
        let (chunks, rest) = bytes.as_chunks::<4>();
        if !rest.is_empty() {
            return Err(MemoryError::EmbeddingBytes(bytes.len()));
        }
        Ok(Self(
            chunks.iter().map(|c| f32::from_le_bytes(*c)).collect(),
        ))
    }
}

impl From<Embedding> for Vec<f32> {
    fn from(embedding: Embedding) -> Self {
        embedding.0
    }
}

impl AsRef<[f32]> for Embedding {
    fn as_ref(&self) -> &[f32] {
        &self.0
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn l2_norm(values: &[f32]) -> f32 {
    dot(values, values).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_vectors_have_unit_length_and_cosine_is_their_dot() {
        let a = Embedding::normalized(vec![3.0, 4.0]);
        let b = Embedding::normalized(vec![4.0, 3.0]);
        assert!((a.norm() - 1.0).abs() < 1e-6);
        let dot = a.dot(&b).expect("same length");
        assert!((dot - 0.96).abs() < 1e-6);
        assert!((a.cosine(&b).expect("same length") - dot).abs() < 1e-6);
        assert_eq!(Embedding::normalized(vec![0.0, 0.0]).norm(), 0.0);
    }

    #[test]
    fn different_lengths_are_an_error() {
        let a = Embedding::new(vec![1.0, 0.0]);
        let b = Embedding::new(vec![1.0, 0.0, 0.0]);
        assert!(matches!(
            a.dot(&b),
            Err(MemoryError::Dimensions {
                expected: 2,
                actual: 3
            })
        ));
    }

    #[test]
    fn bytes_round_trip() {
        let a = Embedding::new(vec![0.5, -1.25, f32::MIN_POSITIVE]);
        assert_eq!(
            Embedding::from_bytes(&a.to_bytes()).expect("whole floats"),
            a
        );
        assert!(matches!(
            Embedding::from_bytes(&[0; 5]),
            Err(MemoryError::EmbeddingBytes(5))
        ));
    }
}
