//! Elastic Beanstalk custom platforms (`rpack platform …`).
