// https in the example programs, on the backend of this run: http_server
// with --cert/--key (ready line `tls=on`, ALPN http/1.1) answering corio's
// https client and the crawler; the crawler against nginx serving https;
// the crawler's verification failure (counted as an error, the reason on
// stderr) and --insecure. Certificates come from tls_support.hpp; without
// nginx that case WARNs and returns (scripts/test.sh installs it).
#include <sys/stat.h>

#include <string>
#include <vector>

#include <corio/http/client.hpp>
#include <corio/tls/https.hpp>

#include "tls_support.hpp"

namespace examples_https_test {

namespace {

using namespace corio;
using namespace corio::test::site;
using namespace std::chrono_literals;

#define NEED_BIN(bin, dir, name)                               \
    const std::string bin = example_binary(dir, name);         \
    if (bin.empty()) {                                         \
        WARN("examples/" dir "/" name " not built: skipping"); \
        return;                                                \
    }

/// A small site: / links to a.html (relative), b.html (absolute https, same
/// origin) and to the same host over plain http (another origin: not followed).
void write_site(const std::string& root, int port) {
    const std::string self = "https://127.0.0.1:" + std::to_string(port);
    write_file(root + "/index.html", "<a href=\"a.html\">a</a> <a href=\"" + self +
                                         "/b.html\">b</a> <a href=\"http://127.0.0.1:" +
                                         std::to_string(port) + "/plain.html\">plain</a>\n");
    write_file(root + "/a.html", "<p>a</p> <a href=\"/\">home</a>\n");
    write_file(root + "/b.html", "<p>b</p>\n");
}

struct CrawlRun {
    int status = -1;
    std::string output;  // stdout and stderr
    long pages = -1, errors = -1;
};

CrawlRun crawl(const std::string& bin, const std::string& url, std::vector<std::string> extra) {
    std::string cmd = bin + " " + url + " --backend " + backend_name() + " --timeout-ms 5000";
    for (const std::string& a : extra)
        cmd += " " + a;
    Child c("sh", {"-c", cmd + " 2>&1"}, 60);
    CrawlRun r;
    r.output = c.read_all();
    r.status = c.wait(60s);
    auto at = r.output.find("pages=");
    if (at != std::string::npos) {
        long bytes = 0, ms = 0;
        std::sscanf(r.output.c_str() + at, "pages=%ld bytes=%ld errors=%ld elapsed_ms=%ld",
                    &r.pages, &bytes, &r.errors, &ms);
    }
    return r;
}

Task<void> fetch_https(const test::TlsFiles* f, int port, int* status, std::string* body) {
    http::ClientOptions o;
    o.connect = tls::https_connector(test::client_context(*f));
    http::Client client(o);
    for (int i = 0; i < 3; ++i) {  // keep-alive: one connection, three requests
        auto r = co_await client.get("https://localhost:" + std::to_string(port) + "/a.html");
        INFO((r ? std::string("ok") : r.error().message()));
        REQUIRE(r);
        *status = r->status;
        *body = r->body;
    }
    CHECK(client.stats().connects == 1);
    client.close_idle();
}

}  // namespace

TEST_CASE("https: http_server --cert/--key serves corio's client and the crawler",
          "[examples][tls]") {
    NEED_TLS_FILES(f);
    NEED_BIN(server, "http_server", "http_server");
    NEED_BIN(crawler, "crawler", "crawler");
    TempDir dir("corio-https");
    write_file(dir / "root/index.html", "");  // the real site needs the port
    for (std::string loops : {"1", "2"}) {
        Child srv(server,
                  {"--root", dir / "root", "--port", "0", "--backend", backend_name(), "--loops",
                   loops, "--cert", f->cert("server"), "--key", f->key("server")});
        auto line = srv.read_line(10s);
        REQUIRE(line);
        INFO(*line);
        CHECK(line->find(" tls=on") != std::string::npos);
        const int port = port_of_ready_line(*line);
        REQUIRE(port > 0);
        write_site(dir / "root", port);

        int status = 0;
        std::string body;
        test::run([&](Loop&) { return fetch_https(f, port, &status, &body); });
        CHECK(status == 200);
        CHECK(body == "<p>a</p> <a href=\"/\">home</a>\n");

        const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
        auto ok = crawl(crawler, url, {"--ca-file", f->ca()});
        INFO(ok.output);
        CHECK(ok.status == 0);
        CHECK(ok.pages == 3);  // /, a.html, b.html; not the http:// link
        CHECK(ok.errors == 0);

        // Without the test CA: the system store does not know it.
        auto bad = crawl(crawler, url, {});
        INFO(bad.output);
        CHECK(bad.status == 0);
        CHECK(bad.pages == 1);
        CHECK(bad.errors == 1);
        CHECK(bad.output.find(url + ": certificate verify failed: unable to get local issuer "
                                    "certificate") != std::string::npos);

        auto insecure = crawl(crawler, url, {"--insecure"});
        INFO(insecure.output);
        CHECK(insecure.pages == 3);
        CHECK(insecure.errors == 0);
        CHECK(srv.stop() == 0);
    }
}

TEST_CASE("https: the crawler against nginx serving https", "[examples][tls]") {
    NEED_TLS_FILES(f);
    NEED_BIN(crawler, "crawler", "crawler");
    std::string nginx = "/usr/sbin/nginx";
    struct stat st {};
    if (::stat(nginx.c_str(), &st) != 0) {
        WARN("nginx is not installed (apt-get install nginx): skipping");
        return;
    }
    TempDir dir("corio-nginx");
    ::chmod(dir.path.c_str(), 0755);
    const int port = free_port();
    write_site(dir / "www", port);
    const std::string d = dir.path;
    write_file(d + "/nginx.conf",
               "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d +
                   "/nginx.pid;\nerror_log " + d +
                   "/error.log warn;\n"
                   "events { worker_connections 64; }\n"
                   "http {\n  access_log off;\n  types { text/html html; }\n"
                   "  client_body_temp_path " +
                   d + "/body;\n  proxy_temp_path " + d + "/proxy;\n  fastcgi_temp_path " + d +
                   "/fastcgi;\n  uwsgi_temp_path " + d + "/uwsgi;\n  scgi_temp_path " + d +
                   "/scgi;\n"
                   "  server {\n    listen 127.0.0.1:" +
                   std::to_string(port) +
                   " ssl;\n"
                   "    ssl_certificate " +
                   f->cert("server") +
                   ";\n"
                   "    ssl_certificate_key " +
                   f->key("server") +
                   ";\n"
                   "    ssl_protocols TLSv1.2 TLSv1.3;\n    root " +
                   d + "/www;\n  }\n}\n");
    Child ngx(nginx, {"-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"}, 60, true);
    REQUIRE(wait_for_port(port, 10s));
    const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
    auto r = crawl(crawler, url, {"--ca-file", f->ca()});
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.pages == 3);
    CHECK(r.errors == 0);
    ngx.stop(SIGQUIT);
}

TEST_CASE("https: echo_server --tls and echo_bench --tls", "[examples][tls]") {
    NEED_TLS_FILES(f);
    NEED_BIN(server, "", "echo_server");
    NEED_BIN(bench, "", "echo_bench");
    Child srv(server, {"--port", "0", "--backend", backend_name(), "--tls", "--cert",
                       f->cert("server"), "--key", f->key("server")});
    auto line = srv.read_line(10s);
    REQUIRE(line);
    INFO(*line);
    CHECK(line->find(" tls=on") != std::string::npos);
    const int port = port_of_ready_line(*line);
    REQUIRE(port > 0);
    // Counts, not speed: every echoed message is checked byte for byte.
    Child ok(bench, {"--port", std::to_string(port), "--tls", "--ca-file", f->ca(), "--conns", "3",
                     "--size", "3000", "--duration", "0.3", "--backend", backend_name()});
    const std::string out = ok.read_all();
    INFO(out);
    CHECK(ok.wait(30s) == 0);
    CHECK(out.find("errors=0") != std::string::npos);
    // Without the CA: the handshake fails and says why.
    Child bad("sh", {"-c", bench + " --port " + std::to_string(port) +
                               " --tls --conns 1 --duration 0.1 2>&1"});
    const std::string why = bad.read_all();
    CHECK(bad.wait(30s) == 1);
    CHECK(why.find("certificate verify failed: unable to get local issuer certificate") !=
          std::string::npos);
    CHECK(srv.stop() == 0);
}

}  // namespace examples_https_test
