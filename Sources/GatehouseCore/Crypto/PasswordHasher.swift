import CArgon2
import Foundation
import NIOPosix
import Synchronization

/// argon2id parameters (RFC 9106); the defaults are OWASP's minimum.
public struct Argon2Parameters: Sendable, Equatable {
    /// Memory in KiB (m).
    public var memoryKiB: Int
    /// Passes over memory (t).
    public var iterations: Int
    /// Lanes (p).
    public var parallelism: Int

    public static let `default` = Argon2Parameters(memoryKiB: 19 * 1024, iterations: 2, parallelism: 1)

    public init(memoryKiB: Int, iterations: Int, parallelism: Int) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
    }
}

/// How the hashing pool is bounded: threads below the core count, so hashes never take every
/// core from the event loops; a queue that sheds instead of growing without end.
public struct HashingLimits: Sendable, Equatable {
    /// Hashes computed at once.
    public var threads: Int
    /// Hashes that may wait for a thread; one more is refused at once.
    public var queueLimit: Int
    /// The longest a hash may wait for a thread; one that waited longer is refused unrun.
    public var maxWait: Duration

    /// One thread fewer than the cores (one on a 2-core machine), 64 waiting per thread, 3 s.
    public static var `default`: HashingLimits {
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        return HashingLimits(threads: threads, queueLimit: 64 * threads, maxWait: .seconds(3))
    }

    public init(threads: Int, queueLimit: Int, maxWait: Duration) {
        self.threads = threads
        self.queueLimit = queueLimit
        self.maxWait = maxWait
    }
}

/// Hashes and verifies passwords with argon2id (libargon2), in PHC string format.
///
/// The work runs on a thread pool of its own, never on an event loop or the cooperative pool.
/// The pool's size bounds how many hashes (and so how much memory) run at once, and its threads
/// run at a lower OS priority (nice 10), so the scheduler gives the event loops a core first:
/// a burst of sign-ins slows sign-ins, not every other request. When hashes come faster than
/// the pool computes them, the queue is bounded in length and in wait (`HashingLimits`); what
/// falls outside is refused with 503 and `Retry-After` (`GatehouseError.hashingBusy`), counted
/// in `gatehouse_password_hashes_shed_total`.
public final class PasswordHasher: Sendable {
    public let parameters: Argon2Parameters
    public let limits: HashingLimits
    private let pool: NIOThreadPool
    /// A hash of a random password, verified against when an email is unknown so that the
    /// answer takes as long as for a known one.
    private let dummyHash: String
    private let verifications = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)
    private let working = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let metrics: GatehouseMetrics

    /// Hashes and verifications waiting for a thread, and running on one.
    public var queued: Int { waiting.load(ordering: .relaxed) }
    public var running: Int { working.load(ordering: .relaxed) }
    /// Hashes refused because the queue was full or the wait too long, so far.
    public var shed: Int { refused.load(ordering: .relaxed) }

    /// How many argon2 verifications have run (real or dummy): what a sign-in costs, counted.
    public var verificationsRun: Int { verifications.load(ordering: .relaxed) }

    public init(
        parameters: Argon2Parameters = .default,
        limits: HashingLimits = .default,
        metrics: GatehouseMetrics = GatehouseMetrics()
    ) {
        self.parameters = parameters
        self.limits = limits
        self.metrics = metrics
        self.pool = NIOThreadPool(numberOfThreads: max(1, limits.threads))
        self.pool.start()
        self.dummyHash = Self.unmatchableHash(parameters: parameters)
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    public func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        let salt = Secrets.randomBytes(16)
        return try await measured { try Self.hash(password: password, salt: salt, parameters: parameters) }
    }

    /// True when `password` matches the PHC string `encoded`; false for a mismatch or a malformed
    /// hash. Throws `GatehouseError.hashingBusy` when the pool sheds it.
    public func verify(_ password: String, against encoded: String) async throws -> Bool {
        try await measured {
            self.verifications.add(1, ordering: .relaxed)
            return Self.verify(password: password, encoded: encoded)
        }
    }

    /// Runs `work` on the pool, counted while it waits and while it runs, its time recorded;
    /// refused (unrun) when the queue is full or the wait was too long.
    func measured<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard waiting.wrappingAdd(1, ordering: .relaxed).newValue <= limits.queueLimit else {
            waiting.subtract(1, ordering: .relaxed)
            throw refuse()
        }
        let queuedAt = ContinuousClock.now
        let maxWait = limits.maxWait
        let result: Result<T, any Error>?
        do {
            result = try await pool.runIfActive { () -> Result<T, any Error>? in
                self.waiting.subtract(1, ordering: .relaxed)
                guard ContinuousClock.now - queuedAt <= maxWait else { return nil }
                Self.lowerThisThreadsPriority()
                self.working.add(1, ordering: .relaxed)
                let start = ContinuousClock.now
                defer {
                    self.working.subtract(1, ordering: .relaxed)
                    self.metrics.passwordHash(took: ContinuousClock.now - start)
                }
                return Result { try work() }
            }
        } catch {
            // The pool is shut down: the work never started.
            waiting.subtract(1, ordering: .relaxed)
            throw error
        }
        guard let result else { throw refuse() }
        return try result.get()
    }

    /// Throws `hashingBusy` (counted) when the queue is full now: for a caller that would
    /// otherwise spend something on a request the pool is sure to shed (a registration's
    /// rate-limit slot is counted before its hash).
    public func refuseIfFull() throws {
        if waiting.load(ordering: .relaxed) >= limits.queueLimit { throw refuse() }
    }

    private func refuse() -> GatehouseError {
        refused.add(1, ordering: .relaxed)
        metrics.passwordHashShed()
        return .hashingBusy
    }

    /// nice 10 for the calling thread alone: Linux keeps the nice value per thread, and `who`
    /// 0 names the calling thread (setpriority(2), "Bugs"). The lanes argon2 starts for
    /// parallelism > 1 inherit it.
    static func lowerThisThreadsPriority() {
        #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
    }

    /// Spends the time of one verification without a real hash, for unknown accounts.
    public func verifyDummy(_ password: String) async throws {
        _ = try await verify(password, against: dummyHash)
    }

    /// A PHC string of this cost with a random salt and a random hash: verifying against it is
    /// a whole argon2 computation followed by a mismatch, as for a wrong password. Made
    /// without hashing, so that starting costs no hash, nor its memory.
    static func unmatchableHash(parameters: Argon2Parameters) -> String {
        func phcBase64(_ bytes: [UInt8]) -> String { String(Data(bytes).base64EncodedString().prefix { $0 != "=" }) }
        let cost = "m=\(parameters.memoryKiB),t=\(parameters.iterations),p=\(parameters.parallelism)"
        return "$argon2id$v=19$\(cost)$\(phcBase64(Secrets.randomBytes(16)))$\(phcBase64(Secrets.randomBytes(32)))"
    }

    public struct HashError: Error, CustomStringConvertible {
        public let code: Int32
        public var description: String { String(cString: argon2_error_message(code)) }
    }

    /// One argon2id hash with a given salt, as a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    public static func hash(password: String, salt: [UInt8], parameters: Argon2Parameters) throws -> String {
        let hashLength = 32
        let encodedLength = argon2_encodedlen(
            UInt32(parameters.iterations),
            UInt32(parameters.memoryKiB),
            UInt32(parameters.parallelism),
            UInt32(salt.count),
            UInt32(hashLength),
            Argon2_id
        )
        var encoded = [CChar](repeating: 0, count: encodedLength)
        let passwordBytes = Array(password.utf8)
        let result = passwordBytes.withUnsafeBytes { pwd in
            salt.withUnsafeBytes { saltBytes in
                argon2id_hash_encoded(
                    UInt32(parameters.iterations),
                    UInt32(parameters.memoryKiB),
                    UInt32(parameters.parallelism),
                    pwd.baseAddress,
                    passwordBytes.count,
                    saltBytes.baseAddress,
                    salt.count,
                    hashLength,
                    &encoded,
                    encodedLength
                )
            }
        }
        guard result == ARGON2_OK.rawValue else { throw HashError(code: result) }
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func verify(password: String, encoded: String) -> Bool {
        guard encoded.hasPrefix("$argon2id$") else { return false }
        let passwordBytes = Array(password.utf8)
        return passwordBytes.withUnsafeBytes { pwd in
            argon2id_verify(encoded, pwd.baseAddress, passwordBytes.count) == ARGON2_OK.rawValue
        }
    }
}
