import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Builds JSON responses with the one content type every reply carries (CONTRACT §10).
public enum JSONResponse {
    public static let contentType = "application/json; charset=utf-8"

    public static func make(status: HTTPResponse.Status = .ok, body: JSONValue, headers: HTTPFields = [:]) -> Response {
        let bytes = body.serialized
        var fields = headers
        fields[.contentType] = contentType
        fields[.contentLength] = String(bytes.count)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A handler result: a JSON body with a status, headers and cookies.
public struct JSONReply: ResponseGenerator, Sendable {
    public var status: HTTPResponse.Status
    public var body: JSONValue
    public var headers: HTTPFields
    public var cookies: [Cookie]

    public init(_ body: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], cookies: [Cookie] = [])
    {
        self.body = body
        self.status = status
        self.headers = headers
        self.cookies = cookies
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(status: status, body: body, headers: headers)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }
}
