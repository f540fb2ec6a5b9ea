import Foundation
import Testing

@testable import GatehouseCore

@Suite struct SecretsTests {
    @Test func sessionTokensAre32RandomBytesInBase64URL() {
        let tokens = (0..<1000).map { _ in Secrets.sessionToken() }
        #expect(Set(tokens).count == 1000)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for token in tokens {
            #expect(token.count == 43)
            #expect(token.allSatisfy { alphabet.contains($0) })
        }
    }

    @Test func sha256HexMatchesTheFIPSVector() {
        #expect(Secrets.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func base64URLHasNoPaddingOrStandardSymbols() {
        #expect(Secrets.base64URL([0xfb, 0xff]) == "-_8")
        #expect(Secrets.base64URL([]) == "")
    }

    @Test func identifiersAreCuidLike() {
        let ids = (0..<10_000).map { _ in Identifier.make() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(id.count == 25)
            #expect(id.first == "c")
            #expect(id.allSatisfy { $0.isNumber || ("a"..."z").contains($0) })
            #expect(Identifier.isValid(id))
        }
        let earlier = Identifier.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let later = Identifier.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(earlier < later)
        #expect(!Identifier.isValid("Cxxxxxxxxxxxxxxxxxxxxxxxx"))
        #expect(!Identifier.isValid("c123"))
    }
}
