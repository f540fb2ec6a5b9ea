import CArgon2
import Foundation
import HTTPTypes
import TestSupport
import Testing

@testable import GatehouseCore

@Suite struct PasswordHasherTests {
    /// Runs the reference `argon2` CLI (Debian's `argon2` package) and returns its PHC string.
    func reference(password: String, salt: String, parameters: Argon2Parameters) throws -> String {
        let (status, text) = try Spawned.run(
            "/usr/bin/argon2",
            [
                salt, "-id", "-t", String(parameters.iterations), "-k", String(parameters.memoryKiB),
                "-p", String(parameters.parallelism), "-l", "32", "-e",
            ],
            input: password
        )
        guard status == 0 else { throw TestFailure("argon2 exited \(status): \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: [
        ("password", "somesalt1234", Argon2Parameters.default),
        (
            "correct horse battery staple ✓", "0123456789abcdef",
            Argon2Parameters(memoryKiB: 32768, iterations: 3, parallelism: 2)
        ),
    ])
    func matchesTheReferenceImplementation(password: String, salt: String, parameters: Argon2Parameters) throws {
        let ours = try PasswordHasher.hash(password: password, salt: Array(salt.utf8), parameters: parameters)
        let theirs = try reference(password: password, salt: salt, parameters: parameters)
        #expect(theirs.hasPrefix("$argon2id$v=19$"))
        #expect(ours == theirs)
    }

    @Test func hashesVerifyAndRefuse() async throws {
        let hasher = PasswordHasher(limits: HashingLimits(threads: 2, queueLimit: 32, maxWait: .seconds(30)))
        let hash = try await hasher.hash("S3cret!pass")
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(try await hasher.verify("S3cret!pass", against: hash))
        #expect(try await hasher.verify("S3cret!pasS", against: hash) == false)
        #expect(try await hasher.verify("S3cret!pass", against: "not a hash") == false)
        #expect(try await hasher.verify("S3cret!pass", against: "$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB") == false)
        // Two hashes of one password differ (random salt) and both verify.
        let again = try await hasher.hash("S3cret!pass")
        #expect(again != hash)
        #expect(try await hasher.verify("S3cret!pass", against: again))
    }

    @Test func manyConcurrentHashesAllComplete() async throws {
        let hasher = PasswordHasher(limits: HashingLimits(threads: 2, queueLimit: 32, maxWait: .seconds(30)))
        let hashes = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 { group.addTask { try await hasher.hash("password-\(i)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(hashes).count == 8)
    }

    /// The stand-in hash of unknown accounts is well formed: argon2 computes it in full and
    /// answers a mismatch (not a decoding error, which would return at once).
    @Test func theUnknownAccountsHashCostsAWholeVerification() throws {
        let parameters = Argon2Parameters.default
        let dummy = PasswordHasher.unmatchableHash(parameters: parameters)
        #expect(dummy.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        let password = Array("S3cret!pass".utf8)
        let code = password.withUnsafeBytes { argon2id_verify(dummy, $0.baseAddress, password.count) }
        #expect(code == ARGON2_VERIFY_MISMATCH.rawValue)
        #expect(PasswordHasher.unmatchableHash(parameters: parameters) != dummy)
    }

    /// A cost that takes a while (about 0.2 s a hash here), so that a queue forms.
    static let slow = Argon2Parameters(memoryKiB: 64 * 1024, iterations: 3, parallelism: 1)

    /// Hashes past the queue's length are refused at once with 503 and Retry-After, unrun and
    /// counted; the others complete.
    @Test func aFullQueueIsShed() async throws {
        let hasher = PasswordHasher(
            parameters: Self.slow,
            limits: HashingLimits(threads: 1, queueLimit: 2, maxWait: .seconds(60))
        )
        let outcomes = await withTaskGroup(of: Result<String, any Error>.self) { group in
            for i in 0..<10 {
                group.addTask {
                    do { return .success(try await hasher.hash("password-\(i)")) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let refused = outcomes.compactMap { outcome -> GatehouseError? in
            guard case .failure(let error) = outcome else { return nil }
            return error as? GatehouseError
        }
        let done = outcomes.filter { if case .success = $0 { true } else { false } }
        #expect(done.count + refused.count == 10)
        // One running and two waiting at most when all ten arrive together.
        #expect(done.count >= 1 && done.count <= 9)
        #expect(refused.count >= 1)
        for error in refused {
            #expect(error.status.code == 503)
            #expect(error.headers[HTTPField.Name("Retry-After")!] == "2")
        }
        #expect(hasher.shed == refused.count)
        #expect(hasher.queued == 0 && hasher.running == 0)
    }

    /// `refuseIfFull` answers for the queue as it is: refused (and counted) while it is full,
    /// nothing once it has drained.
    @Test func aCallerCanAskBeforeSpendingAnything() async throws {
        let hasher = PasswordHasher(
            parameters: Self.slow,
            limits: HashingLimits(threads: 1, queueLimit: 1, maxWait: .seconds(60))
        )
        let gate = DispatchSemaphore(value: 0)
        let first = Task { try await hasher.measured { gate.wait() } }
        #expect(try await eventually(every: .milliseconds(1)) { hasher.running == 1 })
        let second = Task { try await hasher.hash("two") }
        #expect(try await eventually(every: .milliseconds(1)) { hasher.queued == 1 })
        #expect(throws: GatehouseError.self) { try hasher.refuseIfFull() }
        #expect(hasher.shed == 1)
        gate.signal()
        _ = try await (first.value, second.value)
        try hasher.refuseIfFull()
        #expect(hasher.shed == 1)
    }

    /// A hash that waited longer than `maxWait` for the thread is refused without running.
    @Test func aLongWaitIsShed() async throws {
        let hasher = PasswordHasher(
            parameters: Self.slow,
            limits: HashingLimits(threads: 1, queueLimit: 100, maxWait: .seconds(1))
        )
        // The thread is held; three hashes queue behind it and wait longer than a second.
        let gate = DispatchSemaphore(value: 0)
        let holder = Task { try await hasher.measured { gate.wait() } }
        #expect(try await eventually(every: .milliseconds(1)) { hasher.running == 1 })
        let waiting = Task {
            await withTaskGroup(of: Bool.self) { group in
                for i in 0..<3 { group.addTask { (try? await hasher.hash("password-\(i)")) != nil } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(try await eventually(every: .milliseconds(1)) { hasher.queued == 3 })
        try await Task.sleep(for: .milliseconds(1500))
        gate.signal()
        try await holder.value
        #expect(await waiting.value == [false, false, false])
        #expect(hasher.shed == 3)
        // The thread free, a hash runs again.
        #expect(try await hasher.hash("password").hasPrefix("$argon2id$"))
        #expect(hasher.shed == 3)
    }

    /// The hashing threads run at nice 10, below the event loops (nice 0).
    @Test func hashingThreadsRunAtALowerPriority() async throws {
        let hasher = PasswordHasher(limits: HashingLimits(threads: 1, queueLimit: 4, maxWait: .seconds(60)))
        let nice = try await hasher.measured { () -> Int32 in
            // Read after a hash has run on this thread: it lowered its own priority first.
            errno = 0
            return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        }
        #expect(nice == 10)
    }
}
