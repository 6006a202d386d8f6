//! AWS access shared by builders and commands: client configuration (credential chain, region,
//! endpoints, retries), polling with backoff, and error texts that name the operation.
