//! Istio's resources with Istio's field names (filled in by the API work).
