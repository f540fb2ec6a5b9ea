import Foundation
import Testing

@testable import GatehouseCore

@Suite struct ValidationTests {
    /// Redirect targets: the allowed origins and plain relative paths; nothing a browser could
    /// read as another host (a backslash, a user part, control characters) even when a URL
    /// parser finds the allowed host in it.
    @Test func redirectsStayOnTheAllowedOrigins() {
        let allowed = ["https://panel.example.com"]
        for url in ["https://panel.example.com/welcome", "/welcome?next=1", "https://PANEL.example.com:443/x"] {
            #expect(Validate.isSafeRedirect(url, allowedOrigins: allowed), "\(url)")
        }
        for url in [
            "https://evil.example\\@panel.example.com/r", "https://evil.example%5C@panel.example.com/r",
            "https://user@panel.example.com/", "https://user:pw@panel.example.com/", "//evil.example/",
            "/\\evil.example/", "https://panel.example.com\tevil/", "https://evil.example/", "javascript:alert(1)",
            "http://panel.example.com/",
        ] {
            #expect(!Validate.isSafeRedirect(url, allowedOrigins: allowed), "\(url)")
        }
    }

    /// A write's origin: an allowed one, or the server's own (its Host), over https when the
    /// cookies are secure.
    @Test func sameOriginWritesNeedTheCookiesScheme() {
        let allowed = ["https://panel.example.com"]
        #expect(Origin.isAllowed("https://panel.example.com", host: "api.example.com", allowed: allowed, secure: true))
        #expect(Origin.isAllowed("https://api.example.com", host: "api.example.com", allowed: allowed, secure: true))
        #expect(!Origin.isAllowed("http://api.example.com", host: "api.example.com", allowed: allowed, secure: true))
        #expect(Origin.isAllowed("http://127.0.0.1:8080", host: "127.0.0.1:8080", allowed: allowed, secure: false))
        #expect(!Origin.isAllowed("http://127.0.0.1:9090", host: "127.0.0.1:8080", allowed: allowed, secure: false))
        #expect(!Origin.isAllowed("null", host: "127.0.0.1:8080", allowed: allowed, secure: false))
    }

    @Test(arguments: ["a@b.co", "first.last+tag@example.com", "x_y@sub.domain.org", "o'neil@example.ie"])
    func acceptsEmails(_ email: String) {
        #expect(Validate.isEmail(email))
    }

    @Test(arguments: [
        "", "plain", "@example.com", "a@", "a@b", "a@b.", "a@.com", "a b@c.com", "a@@b.com", ".a@b.com", "a..b@c.com",
        "a@b.c0m", "a@-b.com", "ü@example.com", String(repeating: "a", count: 65) + "@example.com",
    ])
    func refusesMalformedEmails(_ email: String) {
        #expect(!Validate.isEmail(email))
    }

    @Test func calendarDatesMustExist() {
        #expect(Validate.calendarDate("2024-02-29") != nil)
        #expect(Validate.calendarDate("2023-02-29") == nil)
        #expect(Validate.calendarDate("2023-02-30") == nil)
        #expect(Validate.calendarDate("2023-13-01") == nil)
        #expect(Validate.calendarDate("2023-1-01") == nil)
        #expect(Validate.calendarDate("20230101") == nil)
        #expect(Validate.calendarDate("2023-04-31") == nil)
    }

    @Test func ageCountsWholeYears() throws {
        let now = try Date("2026-03-15T12:00:00Z", strategy: .iso8601)
        #expect(Validate.age(dateOfBirth: "2008-03-15", now: now) == 18)
        #expect(Validate.age(dateOfBirth: "2008-03-16", now: now) == 17)
        #expect(Validate.age(dateOfBirth: "2000-02-29", now: now) == 26)
        #expect(Validate.age(dateOfBirth: "garbage", now: now) == nil)
    }

    @Test func namesAreBounded() {
        #expect(Validate.name("Ada", field: "firstName") == nil)
        #expect(Validate.name("   ", field: "firstName")?.message == "must not be empty")
        #expect(
            Validate.name(String(repeating: "x", count: 101), field: "firstName")?.message
                == "must be at most 100 characters"
        )
        #expect(Validate.name("a\u{0}b", field: "lastName")?.field == "lastName")
    }

    @Test func ipRanges() throws {
        let v4 = try #require(IPRange("10.0.0.0/8"))
        #expect(v4.contains("10.1.2.3"))
        #expect(!v4.contains("11.0.0.1"))
        #expect(v4.contains("::ffff:10.9.9.9"))
        let host = try #require(IPRange("127.0.0.1"))
        #expect(host.contains("127.0.0.1") && !host.contains("127.0.0.2"))
        let v6 = try #require(IPRange("fd00::/8"))
        #expect(v6.contains("fd12::1") && !v6.contains("fe80::1"))
        #expect(IPRange("10.0.0.0/33") == nil)
        #expect(IPRange("example.com") == nil)
    }
}
