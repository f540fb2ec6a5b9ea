import Foundation
import Testing

@testable import GatehouseCore

@Suite struct ValidationTests {
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
