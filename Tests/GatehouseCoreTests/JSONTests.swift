import Foundation
import Testing

@testable import GatehouseCore

@Suite struct JSONTests {
    @Test func writesMembersInOrderWithRFC8259Escapes() {
        let value: JSONValue = .object([
            ("b", 1), ("a", "x\"y\\z\n\u{1}/é"), ("n", nil), ("t", true), ("list", .array([.number(1.5), -2])),
        ])
        #expect(value.jsonString == #"{"b":1,"a":"x\"y\\z\n\u0001/é","n":null,"t":true,"list":[1.5,-2]}"#)
    }

    @Test func roundTripsThroughFoundation() throws {
        let value: JSONValue = .object([("s", "tab\there"), ("o", .object([("k", .array([]))]))])
        let parsed = try JSONSerialization.jsonObject(with: Data(value.serialized)) as? [String: Any]
        #expect(parsed?["s"] as? String == "tab\there")
    }

    @Test func errorsRenderTheContractShape() {
        let error = GatehouseError.validation([FieldIssue(field: "email", message: "is required")])
        #expect(
            error.body.jsonString
                == #"{"error":"Validation failed","details":[{"field":"email","message":"is required"}]}"#
        )
        #expect(GatehouseError.suspended.body.jsonString == #"{"error":"Account suspended","suspended":true}"#)
    }

    @Test func timestampsHaveMillisecondsInUTC() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_705_314_600.5)) == "2024-01-15T10:30:00.500Z")
        #expect(Timestamp.parse("2024-01-15T10:30:00Z") == Date(timeIntervalSince1970: 1_705_314_600))
    }
}
