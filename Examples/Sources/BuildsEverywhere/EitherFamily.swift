// Code that must build in a debug build and in a release build alike
// (`scripts/test.sh` builds this package both ways): the validated
// (`Checked`) and plain (`Plain`) lock families mixed, where the default
// names (`Mutex`, `LockdepMap`, ...) are one family in a debug build and
// the other in a release build. An independent trial found
// `Checked.Mutex.lock(nestLock: LockdepMap(...))` and
// `mightLock(Checked.LockdepMap(...))` refused in release builds, and
// `Plain.Mutex.lock(nestLock: LockdepMap(...))` in debug ones.
import Lockdep

/// Takes a lock of each family under a nest lock of each kind (a map of
/// either family, a lock of either family), and checks `might_lock()` of
/// each: every combination builds, whatever the build.
public func nestUnderEitherFamily() {
  let checkedMap = Checked.LockdepMap(.mutex, name: "&either->checked_map")
  let plainMap = Plain.LockdepMap(.mutex, name: "&either->plain_map")
  let defaultMap = LockdepMap(.mutex, name: "&either->map")
  let checkedNest = Checked.Mutex(name: "&either->checked_nest")
  let plainNest = Plain.Mutex(name: "&either->plain_nest")
  let mutex = Checked.Mutex(name: "&either->mutex")
  let spin = Checked.SpinLock(name: "&either->spin")
  let rwsem = Checked.RWSemaphore(name: "&either->rwsem")
  let plainMutex = Plain.Mutex(name: "&either->plain_mutex")
  let plainSpin = Plain.SpinLock(name: "&either->plain_spin")
  let plainRWSem = Plain.RWSemaphore(name: "&either->plain_rwsem")

  checkedMap.acquire()
  mutex.lock(nestLock: checkedMap)
  mutex.unlock()
  plainMutex.lock(nestLock: checkedMap)
  plainMutex.unlock()
  checkedMap.release()

  plainMap.acquire()
  mutex.lock(nestLock: plainMap)
  mutex.unlock()
  spin.lock(nestLock: plainMap)
  spin.unlock()
  rwsem.lock(nestLock: plainMap)
  rwsem.unlock()
  plainMutex.lock(nestLock: plainMap)
  plainMutex.unlock()
  plainMap.release()

  defaultMap.acquire()
  mutex.lock(nestLock: defaultMap)
  mutex.unlock()
  spin.lock(nestLock: defaultMap)
  spin.unlock()
  rwsem.lock(nestLock: defaultMap)
  rwsem.unlock()
  plainMutex.lock(nestLock: defaultMap)
  plainMutex.unlock()
  plainSpin.lock(nestLock: defaultMap)
  plainSpin.unlock()
  plainRWSem.lock(nestLock: defaultMap)
  plainRWSem.unlock()
  defaultMap.release()

  checkedNest.lock()
  plainMutex.lock(nestLock: checkedNest)
  plainMutex.unlock()
  checkedNest.unlock()
  plainNest.lock()
  mutex.lock(nestLock: plainNest)
  mutex.unlock()
  plainNest.unlock()

  mightLock(checkedMap)
  mightLock(plainMap)
  mightLock(defaultMap)
  mightLock(mutex)
  mightLock(plainMutex)
}
