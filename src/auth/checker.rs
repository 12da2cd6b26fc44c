//! The password checker: the one thread kv runs beside its event loop.
//!
//! An argon2 check cannot be sliced into millisecond steps (it is built to
//! cost tens of milliseconds on a PC and hundreds on a board, in one call),
//! and run in the loop's turn it froze every viewer and keystroke while
//! wrong passwords came in from many addresses (issue 15, finding 2: 4–8 s
//! stalls from 200 addresses). So it runs here, as DESIGN.md allows for
//! exactly this kind of work: one thread, a queue of `QUEUE` jobs that the
//! loop fills without ever waiting (`try_send`), answers handed back over
//! a channel and announced through `notify` (the loop's `mio::Waker`). The
//! thread touches no socket, device or state of the loop's: it gets the
//! account to check against (its name and hash travel with the job, so
//! accounts may change meanwhile), a user and a password, and says whether
//! they are right; or a new password, and makes its hash (an admin setting
//! a password through the API).

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;

use super::Credentials;

/// Checks waiting for the thread beyond the one it is running. Small: a
/// queue only adds waiting time, the global budget (`super::Budget`) is what
/// limits the work.
pub const QUEUE: usize = 4;

/// Which check an answer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(pub u64);

enum Job {
    Verify {
        ticket: Ticket,
        account: Credentials,
        user: String,
        password: String,
    },
    Hash {
        ticket: Ticket,
        password: String,
    },
}

pub enum Outcome {
    /// Whether the password was right.
    Checked(bool),
    /// The new password's argon2 hash.
    Hashed(Result<String, String>),
}

pub struct Answer {
    pub ticket: Ticket,
    pub outcome: Outcome,
}

pub struct Checker {
    jobs: SyncSender<Job>,
    answers: Receiver<Answer>,
}

impl Checker {
    /// Starts the thread; `notify` is called after each answer is ready.
    pub fn spawn(notify: Box<dyn Fn() + Send>) -> std::io::Result<Checker> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let (answer, answers) = mpsc::channel();
        thread::Builder::new()
            .name("kv-password".into())
            .spawn(move || {
                // Ends when the loop drops its `Checker` (kv exits).
                for job in queue {
                    let (ticket, outcome) = match job {
                        Job::Verify {
                            ticket,
                            account,
                            user,
                            password,
                        } => (ticket, Outcome::Checked(account.verify(&user, &password))),
                        Job::Hash { ticket, password } => {
                            (ticket, Outcome::Hashed(super::hash_password(&password)))
                        }
                    };
                    if answer.send(Answer { ticket, outcome }).is_err() {
                        return;
                    }
                    notify();
                }
            })?;
        Ok(Checker { jobs, answers })
    }

    /// Queues a check of `user`'s `password` against `account`; false
    /// when the queue is full (or the thread gone).
    pub fn verify(
        &self,
        ticket: Ticket,
        account: Credentials,
        user: String,
        password: String,
    ) -> bool {
        self.submit(Job::Verify {
            ticket,
            account,
            user,
            password,
        })
    }

    /// Queues the hashing of a new password; false as for `verify`.
    pub fn hash(&self, ticket: Ticket, password: String) -> bool {
        self.submit(Job::Hash { ticket, password })
    }

    fn submit(&self, job: Job) -> bool {
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Disconnected(_)) => {
                log::error!("the password checker thread is gone; passwords cannot be checked");
                false
            }
        }
    }

    /// The answers ready now, without waiting.
    pub fn answers(&self) -> impl Iterator<Item = Answer> + '_ {
        self.answers.try_iter()
    }
}
