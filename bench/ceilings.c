/* ceilings.c - the ceilings bench/ingest compares custody against, each
 * measured in the same run on the same machine:
 *   fetch URL TOKEN DIR   libcurl fetching every page of the cursor chain
 *                         (one connection, no parsing beyond finding the
 *                         next cursor), saving the pages for `parse`
 *   parse DIR             custody's JSON parser over the saved pages, and
 *                         cJSON over the same bytes when built with it
 *   sqlite PATH N PER     N plain INSERTs of ~400-byte rows, WAL,
 *                         synchronous=FULL, one commit per PER rows
 * Each prints one line "ceiling <name> <value> <unit>". */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_CJSON
#include <cjson/cJSON.h>
#endif

#include "core/buf.h"
#include "core/json.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_body(char *d, size_t s, size_t n, void *ud)
{
    return buf_add(ud, d, s * n) ? 0 : s * n;
}

static int do_fetch(const char *base, const char *token, const char *dir)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[512], url[4096], cursor[1024] = "", path[4096];
    buf body;
    long pages = 0;
    double bytes = 0, t0 = now();
    buf_init(&body, 256u << 20);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
    for (;;) {
        const char *p;
        FILE *f;
        snprintf(url, sizeof url, "%s%s%s", base, cursor[0] ? "&cursor=" : "", cursor);
        buf_reset(&body);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        if (curl_easy_perform(c) != CURLE_OK) {
            fprintf(stderr, "fetch failed: %s\n", url);
            return 1;
        }
        pages++;
        bytes += (double)body.len;
        snprintf(path, sizeof path, "%s/page-%06ld.json", dir, pages);
        if ((f = fopen(path, "wb"))) {
            fwrite(body.ptr, 1, body.len, f);
            fclose(f);
        }
        p = strstr(buf_str(&body), "\"next_cursor\":\"");
        if (!p)
            break;
        p += 15;
        {
            size_t n = strcspn(p, "\"");
            if (n >= sizeof cursor)
                return 1;
            memcpy(cursor, p, n);
            cursor[n] = '\0';
        }
    }
    {
        double t = now() - t0;
        printf("ceiling fetch_pages %ld pages\nceiling fetch_bytes %.0f bytes\n", pages, bytes);
        printf("ceiling fetch_seconds %.3f s\nceiling fetch_mbps %.1f MB/s\n", t, bytes / t / 1e6);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    buf_release(&body);
    return 0;
}

static int do_parse(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **texts = NULL;
    size_t *lens = NULL, n = 0;
    double bytes = 0, t0, t;
    long records = 0;
    if (!d)
        return 1;
    while ((de = readdir(d))) {
        char path[4096];
        FILE *f;
        long sz;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!(f = fopen(path, "rb")))
            continue;
        fseek(f, 0, SEEK_END);
        sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        texts = realloc(texts, (n + 1) * sizeof *texts);
        lens = realloc(lens, (n + 1) * sizeof *lens);
        texts[n] = malloc((size_t)sz + 1);
        lens[n] = fread(texts[n], 1, (size_t)sz, f);
        texts[n][lens[n]] = '\0';
        bytes += (double)lens[n];
        n++;
        fclose(f);
    }
    closedir(d);
    t0 = now();
    /* One document reused across pages, as the poll engine does. */
    json_doc *doc = json_doc_new();
    for (size_t i = 0; i < n; i++) {
        json_value *v = json_parse(doc, texts[i], lens[i], NULL, NULL);
        json_value *data = v ? json_get(v, "data") : NULL;
        records += data ? (long)data->len : 0;
        json_doc_reset(doc);
    }
    json_doc_free(doc);
    t = now() - t0;
    printf("ceiling parse_custody_mbps %.1f MB/s\nceiling parse_custody_records_per_s %.0f records/s\n",
           bytes / t / 1e6, records / t);
#ifdef HAVE_CJSON
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        cJSON *j = cJSON_ParseWithLength(texts[i], lens[i]);
        cJSON_Delete(j);
    }
    t = now() - t0;
    printf("ceiling parse_cjson_mbps %.1f MB/s\n", bytes / t / 1e6);
#endif
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    return 0;
}

static int do_sqlite(const char *path, long n, long per)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char row[400];
    double t0, t;
    memset(row, 'x', sizeof row - 1);
    row[sizeof row - 1] = '\0';
    remove(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE r(id INTEGER PRIMARY KEY, source TEXT, key TEXT, version INT, hash TEXT,"
                     " body TEXT, UNIQUE(source, key, version));", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO r(source,key,version,hash,body) VALUES('s',?1,1,?2,?3)", -1, &st, NULL);
    t0 = now();
    for (long i = 0; i < n; i++) {
        char key[64], hash[65];
        if (i % per == 0)
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        snprintf(key, sizeof key, "[\"TLC-%08ld\",\"shipping\",\"2026-03-01T00:00:00Z\"]", i);
        snprintf(hash, sizeof hash, "%064ld", i);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, row, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        if (i % per == per - 1 || i == n - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    t = now() - t0;
    printf("ceiling sqlite_per%ld_rows_per_s %.0f rows/s\n", per, n / t);
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "fetch"))
        return do_fetch(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "parse"))
        return do_parse(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "sqlite"))
        return do_sqlite(argv[2], strtol(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
    fprintf(stderr, "usage: ceilings fetch URL TOKEN DIR | parse DIR | sqlite PATH N PER\n");
    return 2;
}
