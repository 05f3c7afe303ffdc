// Clang's thread-safety annotations (-Wthread-safety), as LevelDB and Abseil spell them: they let
// the compiler check that a member marked GUARDED_BY(mu_) is only touched with mu_ held, and that
// a function marked REQUIRES(mu_) is only called with it held. Other compilers see nothing.
//
// The annotations need a mutex type the analysis knows: core::Mutex (core/mutex.hpp), not
// std::mutex (libstdc++'s is not annotated). `make test` runs the analysis as a clang
// -fsyntax-only pass over every source (ctest `tsa.check`), with thread-safety warnings as errors.
#pragma once

#if defined(__clang__)
#define SCRUTIN_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SCRUTIN_THREAD_ANNOTATION(x)
#endif

// On a class: it is a lockable capability (a mutex).
#define CAPABILITY(x) SCRUTIN_THREAD_ANNOTATION(capability(x))
// On an RAII class: it holds a capability for its lifetime.
#define SCOPED_CAPABILITY SCRUTIN_THREAD_ANNOTATION(scoped_lockable)
// On a data member: read and written only with the given mutex held.
#define GUARDED_BY(x) SCRUTIN_THREAD_ANNOTATION(guarded_by(x))
// On a pointer member: the pointee is guarded by the given mutex.
#define PT_GUARDED_BY(x) SCRUTIN_THREAD_ANNOTATION(pt_guarded_by(x))
// On a function: the caller must hold (REQUIRES) or must not hold (EXCLUDES) the mutexes.
#define REQUIRES(...) SCRUTIN_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) SCRUTIN_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: it acquires / releases the mutexes (or, on a method, `this`).
#define ACQUIRE(...) SCRUTIN_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SCRUTIN_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SCRUTIN_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// On a function: it returns a reference to the given mutex.
#define RETURN_CAPABILITY(x) SCRUTIN_THREAD_ANNOTATION(lock_returned(x))
// On a function the analysis cannot follow (say why next to it).
#define NO_THREAD_SAFETY_ANALYSIS SCRUTIN_THREAD_ANNOTATION(no_thread_safety_analysis)
