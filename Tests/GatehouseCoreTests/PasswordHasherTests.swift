import Foundation
import TestSupport
import Testing

@testable import GatehouseCore

@Suite struct PasswordHasherTests {
    /// Runs the reference `argon2` CLI (Debian's `argon2` package) and returns its PHC string.
    func reference(password: String, salt: String, parameters: Argon2Parameters) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/argon2")
        process.arguments = [
            salt, "-id", "-t", String(parameters.iterations), "-k", String(parameters.memoryKiB),
            "-p", String(parameters.parallelism), "-l", "32", "-e",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(password.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
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
        let hasher = PasswordHasher(threads: 2)
        let hash = try await hasher.hash("S3cret!pass")
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(await hasher.verify("S3cret!pass", against: hash))
        #expect(await hasher.verify("S3cret!pasS", against: hash) == false)
        #expect(await hasher.verify("S3cret!pass", against: "not a hash") == false)
        #expect(await hasher.verify("S3cret!pass", against: "$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB") == false)
        // Two hashes of one password differ (random salt) and both verify.
        let again = try await hasher.hash("S3cret!pass")
        #expect(again != hash)
        #expect(await hasher.verify("S3cret!pass", against: again))
    }

    @Test func manyConcurrentHashesAllComplete() async throws {
        let hasher = PasswordHasher(threads: 2)
        let hashes = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 { group.addTask { try await hasher.hash("password-\(i)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(hashes).count == 8)
    }
}
