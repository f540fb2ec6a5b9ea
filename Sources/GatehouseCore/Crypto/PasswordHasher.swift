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

/// Hashes and verifies passwords with argon2id (libargon2), in PHC string format.
///
/// The work runs on a thread pool of its own, never on an event loop or the cooperative pool, and
/// the pool's size bounds how many hashes (and so how much memory) run at once.
public final class PasswordHasher: Sendable {
    public let parameters: Argon2Parameters
    private let pool: NIOThreadPool
    /// A hash of a random password, verified against when an email is unknown so that the
    /// answer takes as long as for a known one.
    private let dummyHash: String
    private let verifications = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)
    private let working = Atomic<Int>(0)
    private let metrics: GatehouseMetrics

    /// Hashes and verifications waiting for a thread, and running on one.
    public var queued: Int { waiting.load(ordering: .relaxed) }
    public var running: Int { working.load(ordering: .relaxed) }

    /// How many argon2 verifications have run (real or dummy): what a sign-in costs, counted.
    public var verificationsRun: Int { verifications.load(ordering: .relaxed) }

    public init(
        parameters: Argon2Parameters = .default,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        metrics: GatehouseMetrics = GatehouseMetrics()
    ) {
        self.parameters = parameters
        self.metrics = metrics
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.pool.start()
        self.dummyHash =
            (try? Self.hash(password: Secrets.sessionToken(), salt: Secrets.randomBytes(16), parameters: parameters))
            ?? ""
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    public func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        let salt = Secrets.randomBytes(16)
        return try await measured { try Self.hash(password: password, salt: salt, parameters: parameters) }
    }

    /// True when `password` matches the PHC string `encoded`; false for a mismatch or a malformed hash.
    public func verify(_ password: String, against encoded: String) async -> Bool {
        (try? await measured {
            self.verifications.add(1, ordering: .relaxed)
            return Self.verify(password: password, encoded: encoded)
        }) ?? false
    }

    /// Runs `work` on the pool, counted while it waits and while it runs, its time recorded.
    func measured<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        waiting.add(1, ordering: .relaxed)
        let result: Result<T, any Error>
        do {
            result = try await pool.runIfActive {
                self.waiting.subtract(1, ordering: .relaxed)
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
        return try result.get()
    }

    /// Spends the time of one verification without a real hash, for unknown accounts.
    public func verifyDummy(_ password: String) async {
        _ = await verify(password, against: dummyHash)
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
