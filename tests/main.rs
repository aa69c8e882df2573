//! The integration test binary: every user-visible feature of debias on small real files, plus
//! the evaluation on the BOLD sentences in `../shared/data`.

mod it {
    pub mod apply;
    pub mod augment;
    pub mod bad_input;
    pub mod bold;
    pub mod cli;
    #[cfg(feature = "distributed")]
    pub mod cluster;
    pub mod common;
    pub mod detection;
    pub mod embed;
    pub mod formats;
    pub mod layers;
    pub mod properties;
    pub mod report;
    pub mod scan;
    pub mod setup;
    pub mod store;
}
