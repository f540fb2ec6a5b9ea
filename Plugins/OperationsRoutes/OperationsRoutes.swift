import Foundation
import GatehouseCore
import Hummingbird

/// `routes.operations`: what an operator reads without opening the database: the audit trail
/// and the mail outbox, for admins.
public struct OperationsRoutes: RouteModule {
    public static let id = "routes.operations"

    public init(config: ConfigSection) throws {}

    static let pageSizes = 1...200

    /// `limit` (1–200, 50 when absent) and `before` (an id from the last page) of a page query.
    static func page(_ parameters: Parameters) throws -> (limit: Int, before: String?) {
        var limit = 50
        if let text = parameters.get("limit") {
            guard let number = Int(text), pageSizes.contains(number) else {
                throw GatehouseError.validation([
                    FieldIssue(field: "limit", message: "must be a whole number from 1 to 200", code: .invalid)
                ])
            }
            limit = number
        }
        let before = parameters.get("before").map { String($0) }.flatMap { $0.isEmpty ? nil : $0 }
        return (limit, before)
    }

    /// A page and the cursor of the next one (`null` when this one is the last).
    static func paged(_ key: String, _ items: [JSONValue], ids: [String], limit: Int) -> JSONReply {
        JSONReply(
            .object([
                (key, .array(items)),
                ("next", ids.count == limit ? .string(ids.last) : .null),
            ])
        )
    }

    static func json(_ event: AuditEvent) -> JSONValue {
        .object([
            ("id", .string(event.id)),
            ("kind", .string(event.kind.rawValue)),
            ("userId", .string(event.userId)),
            ("actorId", .string(event.actorId)),
            ("ip", .string(event.ip)),
            ("detail", .object(event.detail.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
            ("createdAt", .date(event.createdAt)),
        ])
    }

    /// A queued mail as admins see it: never its body; the address in full for a rootAdmin.
    static func json(_ mail: OutboxMail, fullAddress: Bool) -> JSONValue {
        .object([
            ("id", .string(mail.id)),
            ("to", .string(fullAddress ? mail.to : Profiles.masked(mail.to))),
            ("template", .string(mail.template)),
            ("status", .string(mail.status.rawValue)),
            ("attempts", .int(mail.attempts)),
            ("lastError", .string(mail.lastError)),
            ("nextAttemptAt", .date(mail.nextAttemptAt)),
            ("createdAt", .date(mail.createdAt)),
        ])
    }

    public static func mount(on router: RouterGroup<GatehouseContext>, core: Core) {
        router.get("api/admin/audit") { request, context in
            _ = try context.requireAdmin()
            let parameters = request.uri.queryParameters
            let (limit, before) = try page(parameters)
            var query = AuditQuery(before: before, limit: limit)
            query.userId = parameters.get("userId").map { String($0) }
            query.actorId = parameters.get("actorId").map { String($0) }
            if let kind = parameters.get("kind") {
                guard let known = AuditEvent.Kind(rawValue: String(kind)) else {
                    throw GatehouseError.validation([
                        FieldIssue(field: "kind", message: "is not a kind of audit event", code: .invalid)
                    ])
                }
                query.kind = known
            }
            let events = try await core.store.auditEvents(query)
            return paged("events", events.map(json), ids: events.map(\.id), limit: limit)
        }

        router.get("api/admin/mail/outbox") { request, context in
            let principal = try context.requireAdmin()
            let parameters = request.uri.queryParameters
            let (limit, before) = try page(parameters)
            var status: OutboxMail.Status?
            if let text = parameters.get("status") {
                guard let known = OutboxMail.Status(rawValue: String(text)) else {
                    throw GatehouseError.validation([
                        FieldIssue(
                            field: "status",
                            message: "must be one of pending, sending, sent, failed",
                            code: .invalid
                        )
                    ])
                }
                status = known
            }
            let mails = try await core.store.outboxMails(status: status, before: before, limit: limit)
            let full = principal.user.role == .rootAdmin
            return paged("mails", mails.map { json($0, fullAddress: full) }, ids: mails.map(\.id), limit: limit)
        }

        // A failed mail back to pending, due now (audited).
        router.post("api/admin/mail/outbox/:id/retry") { _, context in
            let principal = try context.requireAdmin()
            let id = try context.parameters.require("id")
            guard
                try await core.store.retryFailedMail(
                    id: id,
                    now: Date(),
                    audit: AuditEvent(
                        .mailRetried,
                        userId: nil,
                        actorId: principal.user.id,
                        detail: ["mailId": .string(id)]
                    )
                )
            else {
                guard try await core.store.outboxMail(id: id) != nil else {
                    throw GatehouseError.notFound("Mail not found")
                }
                throw GatehouseError(.conflict, "Only a failed mail can be retried")
            }
            core.outboxNudge.signal()
            guard let mail = try await core.store.outboxMail(id: id) else {
                throw GatehouseError.notFound("Mail not found")
            }
            return JSONReply(json(mail, fullAddress: principal.user.role == .rootAdmin))
        }
    }
}
