import Foundation
import GatehouseCore
import TestSupport
import Testing

@Suite struct TOTPTests {
    /// RFC 4648 §10.
    @Test(arguments: [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ])
    func base32MatchesTheRFCVectors(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        #expect(Base32Decoding.decode(encoded) == Array(plain.utf8))
        #expect(Base32Decoding.decode(encoded.lowercased() + "======") == Array(plain.utf8))
    }

    @Test func base32RefusesOtherCharacters() {
        #expect(Base32Decoding.decode("MZXW1") == nil)
        #expect(Base32Decoding.decode("MZ!W6") == nil)
    }

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits), secret "12345678901234567890".
    @Test(arguments: [
        (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"), (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ])
    func rfc6238Vectors(time: Int, expected: String) {
        var totp = TOTP(secret: Array("12345678901234567890".utf8))
        totp.digits = 8
        #expect(totp.code(at: Date(timeIntervalSince1970: TimeInterval(time))) == expected)
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0...9 (a TOTP step is the counter).
    @Test func rfc4226Vectors() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        #expect((0..<10).map { totp.code(step: Int64($0)) } == expected)
    }

    @Test func agreesWithOathtoolOnRandomSecrets() throws {
        for _ in 0..<20 {
            let secret = TOTP.newSecret()
            let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: 0...4_000_000_000)))
            let encoded = Base32.encode(secret)
            #expect(encoded.count == 32)
            #expect(try Oathtool.totp(secret: encoded, at: date) == TOTP(secret: secret).code(at: date))
        }
    }

    @Test func acceptsOneStepEitherSideAndNoMore() {
        let totp = TOTP(secret: TOTP.newSecret())
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let step = totp.step(at: now)
        for offset: Int64 in [-1, 0, 1] {
            #expect(totp.matchingStep(totp.code(step: step + offset), at: now) == step + offset)
        }
        for offset: Int64 in [-3, -2, 2, 3]
        where ![-1, 0, 1].contains(where: { totp.code(step: step + $0) == totp.code(step: step + offset) }) {
            #expect(totp.matchingStep(totp.code(step: step + offset), at: now) == nil)
        }
        #expect(totp.matchingStep("12345", at: now) == nil)
        #expect(totp.matchingStep("12345a", at: now) == nil)
        #expect(totp.matchingStep("١٢٣٤٥٦", at: now) == nil)
    }

    @Test func provisioningURLIsWhatAuthenticatorsRead() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        #expect(
            totp.provisioningURL(account: "ada+test@example.com", issuer: "Game Panel")
                == "otpauth://totp/Game%20Panel:ada%2Btest@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                + "&issuer=Game%20Panel&algorithm=SHA1&digits=6&period=30"
        )
    }

    @Test func sealedSecretsOpenOnlyWithTheirKey() throws {
        let key = SecretKey(bytes: Secrets.randomBytes(32))
        let secret = TOTP.newSecret()
        let sealed = try key.seal(secret)
        #expect(key.open(sealed) == secret)
        #expect(try key.seal(secret) != sealed)  // a fresh nonce each time
        #expect(SecretKey(bytes: Secrets.randomBytes(32)).open(sealed) == nil)
        var tampered = Array(Data(base64Encoded: sealed)!)
        tampered[tampered.count / 2] ^= 1
        #expect(key.open(Data(tampered).base64EncodedString()) == nil)
        #expect(key.open("not base64") == nil)
    }

    @Test func theKeyFileIsCreatedPrivateAndReadBack() throws {
        let directory = try Paths.temporaryDirectory("key")
        let path = directory.appendingPathComponent("sub/gatehouse.key").path
        let first = try SecretKey.loadOrCreate(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let second = try SecretKey.loadOrCreate(path: path)
        #expect(first.hash("ABCDE12345") == second.hash("ABCDE12345"))
        try "garbage".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: SecretKey.LoadError.self) { try SecretKey.loadOrCreate(path: path) }
    }
}
