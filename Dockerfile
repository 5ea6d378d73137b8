# The operator image: static binaries (the operator and buurt-api) on distroless, running as non-root.
# Build with `make docker-build` (needs a container engine).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /manager ./cmd/manager
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /buurt-api ./cmd/buurt-api

FROM gcr.io/distroless/static:nonroot
COPY --from=build /manager /manager
# buurt-api (my.buurt.dev) runs from the same image: command /buurt-api.
COPY --from=build /buurt-api /buurt-api
USER 65532:65532
ENTRYPOINT ["/manager"]
