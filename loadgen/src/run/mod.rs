//! Running a load: the phases ([`control`]), the executors ([`executor`]), the
//! main-thread orchestration with its progress line ([`runner`]) and the
//! summary ([`report`]).

pub mod control;
pub mod executor;
pub mod report;
pub mod runner;
