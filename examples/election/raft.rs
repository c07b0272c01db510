//! The protocol: Raft's leader election, without the log.
//!
//! Every node starts as a follower with a randomized election timeout
//! (150..=300 ms, drawn from `sim::rand`). A follower that hears no leader
//! before its timeout becomes a candidate: it increments its term, votes for
//! itself, persists both, and asks every peer for a vote (again every 50 ms
//! until it wins or its next timeout starts a new term). A node grants at
//! most one vote per term, persisting it before it answers. A candidate with
//! votes from a majority is the leader of its term and sends heartbeats every
//! 50 ms; a node that sees a higher term in any message adopts it and steps
//! down to follower. Messages are UDP datagrams on port 7000.
//!
//! `buggify!` sites, live only during the chaos phase: a message dropped at
//! the sender, a message delayed by 10..=200 ms (so it arrives stale and out
//! of order), an election timer four times too slow, and a crash right after
//! granting a vote.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use sim::net::UdpSocket;
use sim::time::{Instant, sleep, timeout_at};

use crate::cluster::{Cluster, Disk, Role, Status, name};

/// The port every node listens on.
pub(crate) const PORT: u16 = 7000;
/// How often a leader sends heartbeats.
const HEARTBEAT: Duration = Duration::from_millis(50);
/// How often a candidate asks again the peers that have not voted for it.
const VOTE_RETRY: Duration = Duration::from_millis(50);
/// The election timeout range, in milliseconds.
const ELECTION_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 150..=300;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A candidate asks for a vote in `term`.
    RequestVote = 1,
    /// The answer; `granted` says whether the vote was given.
    Vote = 2,
    /// The leader of `term` is alive.
    Heartbeat = 3,
    /// A follower's answer to a heartbeat, carrying its term so that a stale
    /// leader learns it has been replaced.
    Ack = 4,
}

/// A message: 11 bytes on the wire (kind, sender, flag, term).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Message {
    kind: Kind,
    term: u64,
    from: usize,
    granted: bool,
}

impl Message {
    const LEN: usize = 11;

    fn new(kind: Kind, term: u64, from: usize) -> Message {
        Message {
            kind,
            term,
            from,
            granted: false,
        }
    }

    fn encode(&self) -> [u8; Message::LEN] {
        let mut bytes = [0; Message::LEN];
        bytes[0] = self.kind as u8;
        bytes[1] = u8::try_from(self.from).expect("at most 256 nodes");
        bytes[2] = u8::from(self.granted);
        bytes[3..].copy_from_slice(&self.term.to_le_bytes());
        bytes
    }

    /// `None` for anything that is not a message of this protocol.
    fn decode(bytes: &[u8]) -> Option<Message> {
        let bytes: &[u8; Message::LEN] = bytes.try_into().ok()?;
        let kind = match bytes[0] {
            1 => Kind::RequestVote,
            2 => Kind::Vote,
            3 => Kind::Heartbeat,
            4 => Kind::Ack,
            _ => return None,
        };
        Some(Message {
            kind,
            from: usize::from(bytes[1]),
            granted: bytes[2] == 1,
            term: u64::from_le_bytes(bytes[3..].try_into().ok()?),
        })
    }
}

/// One node's state machine. Handlers queue messages in `outbox`; the loop
/// in [`run`] sends them.
struct Node {
    id: usize,
    cluster: Rc<Cluster>,
    term: u64,
    voted_for: Option<usize>,
    role: Role,
    leader: Option<usize>,
    /// A candidate's votes, by voter (a duplicated vote counts once).
    votes: BTreeSet<usize>,
    election_deadline: Instant,
    /// A leader's next heartbeat, or a candidate's next round of requests.
    next_send: Instant,
    outbox: Vec<(usize, Message)>,
}

impl Node {
    /// A node starting, or restarting after a crash: a follower with the
    /// term and vote its disk holds.
    fn recover(id: usize, cluster: Rc<Cluster>) -> Node {
        let Disk { term, voted_for } = cluster.read_disk(id);
        let now = Instant::now();
        let mut node = Node {
            id,
            cluster,
            term,
            voted_for,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            election_deadline: now,
            next_send: now,
            outbox: Vec::new(),
        };
        node.reset_election_timer();
        node
    }

    /// Makes the term and vote durable; called before any message that
    /// depends on them is sent.
    fn persist(&self) {
        let voted_for = if self.cluster.bug_forget_vote() {
            // THE PLANTED BUG: the vote is kept in memory only, so a node
            // that crashes after voting may vote again in the same term.
            None
        } else {
            self.voted_for
        };
        let disk = Disk {
            term: self.term,
            voted_for,
        };
        self.cluster.write_disk(self.id, disk);
    }

    fn status(&self) -> Status {
        Status {
            role: self.role,
            term: self.term,
            leader: self.leader,
        }
    }

    fn note(&self, what: std::fmt::Arguments<'_>) {
        self.cluster.note(&name(self.id), what);
    }

    fn chaos(&self) -> bool {
        self.cluster.chaos()
    }

    fn reset_election_timer(&mut self) {
        let mut ms = sim::rand::gen_range(ELECTION_TIMEOUT_MS);
        if self.chaos() && sim::buggify!() {
            ms *= 4; // a slow timer: an overloaded host, a long GC pause
        }
        self.election_deadline = Instant::now() + Duration::from_millis(ms);
    }

    /// When the node has something to do if no message arrives.
    fn next_wake(&self) -> Instant {
        match self.role {
            Role::Leader => self.next_send,
            Role::Candidate => self.election_deadline.min(self.next_send),
            Role::Follower | Role::Down => self.election_deadline,
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        match self.role {
            Role::Leader if now >= self.next_send => self.heartbeat(),
            Role::Follower | Role::Candidate if now >= self.election_deadline => {
                self.start_election()
            }
            Role::Candidate if now >= self.next_send => self.request_votes(),
            _ => {}
        }
    }

    fn start_election(&mut self) {
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.id);
        self.votes = BTreeSet::from([self.id]);
        self.persist();
        self.reset_election_timer();
        self.note(format_args!("starts an election for term {}", self.term));
        self.request_votes();
        self.count_votes();
    }

    fn request_votes(&mut self) {
        for peer in 0..self.cluster.size() {
            if !self.votes.contains(&peer) {
                let request = Message::new(Kind::RequestVote, self.term, self.id);
                self.outbox.push((peer, request));
            }
        }
        self.next_send = Instant::now() + VOTE_RETRY;
    }

    fn count_votes(&mut self) {
        if self.role == Role::Candidate && self.votes.len() > self.cluster.size() / 2 {
            self.role = Role::Leader;
            self.leader = Some(self.id);
            let voters: Vec<String> = self.votes.iter().map(|&v| name(v)).collect();
            self.note(format_args!(
                "LEADER of term {} (votes: {})",
                self.term,
                voters.join(" ")
            ));
            self.cluster.claim_leadership(self.term, self.id);
            self.heartbeat();
        }
    }

    fn heartbeat(&mut self) {
        for peer in (0..self.cluster.size()).filter(|&p| p != self.id) {
            let beat = Message::new(Kind::Heartbeat, self.term, self.id);
            self.outbox.push((peer, beat));
        }
        self.next_send = Instant::now() + HEARTBEAT;
    }

    /// Adopts a higher term seen in a message: a new term, no vote in it yet.
    fn observe_term(&mut self, term: u64) {
        if term <= self.term {
            return;
        }
        if self.role != Role::Follower {
            self.note(format_args!(
                "steps down: term {term} > its term {} ({:?})",
                self.term, self.role
            ));
        }
        if self.role == Role::Leader {
            // A leader's election deadline is long past.
            self.reset_election_timer();
        }
        self.term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.leader = None;
        self.persist();
    }

    /// Handles a message; true if the node should crash now (a `buggify!`
    /// site right after it granted a vote).
    fn on_message(&mut self, msg: Message) -> bool {
        self.observe_term(msg.term);
        match msg.kind {
            Kind::RequestVote => {
                let grant =
                    msg.term == self.term && self.voted_for.is_none_or(|voted| voted == msg.from);
                let first = grant && self.voted_for.is_none();
                if grant {
                    self.voted_for = Some(msg.from);
                    self.persist();
                    self.reset_election_timer();
                }
                let mut vote = Message::new(Kind::Vote, self.term, self.id);
                vote.granted = grant;
                self.outbox.push((msg.from, vote));
                if first {
                    self.note(format_args!(
                        "votes for {} in term {}",
                        name(msg.from),
                        self.term
                    ));
                    return self.chaos() && sim::buggify!();
                }
            }
            Kind::Vote => {
                if msg.granted && msg.term == self.term && self.role == Role::Candidate {
                    self.votes.insert(msg.from);
                    self.count_votes();
                }
            }
            Kind::Heartbeat => {
                // With one leader per term, a leader never hears another
                // leader of its own term; with two, the claim already failed.
                if msg.term == self.term && self.role != Role::Leader {
                    if self.leader != Some(msg.from) {
                        self.note(format_args!(
                            "follows {} in term {}",
                            name(msg.from),
                            self.term
                        ));
                    }
                    self.role = Role::Follower;
                    self.leader = Some(msg.from);
                    self.reset_election_timer();
                }
                let ack = Message::new(Kind::Ack, self.term, self.id);
                self.outbox.push((msg.from, ack));
            }
            Kind::Ack => {}
        }
        false
    }
}

/// Sends one message, through the chaos phase's `buggify!` sites.
async fn send(socket: &Rc<UdpSocket>, to: SocketAddr, msg: Message, chaos: bool) {
    let bytes = msg.encode();
    if chaos && sim::buggify!() {
        return; // dropped at the sender: a full queue, a lost write
    }
    if chaos && sim::buggify!() {
        // Delayed: it arrives late, after messages sent after it.
        let delay = Duration::from_millis(sim::rand::gen_range(10..=200));
        let socket = socket.clone();
        sim::spawn(async move {
            sleep(delay).await;
            socket.send_to(&bytes, to).await.expect("a delayed send");
        });
        return;
    }
    socket.send_to(&bytes, to).await.expect("a send");
}

/// Node `id`'s service: what the node runs at start and after each restart.
pub(crate) async fn run(id: usize, cluster: Rc<Cluster>) {
    let socket = UdpSocket::bind(("0.0.0.0", PORT))
        .await
        .expect("the port is free at start and after a restart");
    let socket = Rc::new(socket);
    let peers: Vec<SocketAddr> = (0..cluster.size())
        .map(|peer| {
            let ip = sim::net::lookup(&name(peer)).expect("every node exists");
            SocketAddr::new(ip, PORT)
        })
        .collect();
    let mut node = Node::recover(id, cluster.clone());
    node.note(format_args!(
        "up: term {}, voted for {}",
        node.term,
        node.voted_for.map_or("nobody".to_owned(), name)
    ));
    cluster.publish(id, node.status());
    let mut buf = [0; 64];
    loop {
        let crash = match timeout_at(node.next_wake(), socket.recv_from(&mut buf)).await {
            Ok(received) => {
                let (n, _) = received.expect("a live socket receives");
                Message::decode(&buf[..n]).is_some_and(|msg| node.on_message(msg))
            }
            Err(_) => {
                node.on_timer();
                false
            }
        };
        cluster.publish(id, node.status());
        let chaos = cluster.chaos();
        for (peer, msg) in std::mem::take(&mut node.outbox) {
            send(&socket, peers[peer], msg, chaos).await;
        }
        if crash {
            node.note(format_args!("crashes right after voting (buggify)"));
            // Kills this very task when its poll returns, then runs this
            // function again on the fresh node.
            sim::node::current().restart();
            return;
        }
    }
}
