//! Provisioners (`shell`, `file`, `shell-local`, `breakpoint`): configuration and run logic over
//! the [`crate::communicator::Communicator`] trait.
