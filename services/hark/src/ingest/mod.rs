//! Where calls enter: AudioHook sessions joined into interactions and fed to recording,
//! monitor streams and Voice ID.

pub mod hub;
